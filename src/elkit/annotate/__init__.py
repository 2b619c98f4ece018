"""The annotation app: recipes, a durable answer store and a web server with a browser front end.

Nothing in the core imports this package; it sits at the edge with the command line.
"""

from elkit.annotate.hashing import input_hash, set_hashes, task_hash
from elkit.annotate.store import Store, default_database_url

__all__ = ["Store", "default_database_url", "input_hash", "set_hashes", "task_hash"]
