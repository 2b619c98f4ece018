"""The annotation app: recipes, a durable answer store and a web server with a browser front end.

Nothing in the core imports this package; it sits at the edge with the command line.
"""

from elkit.extras import require

for _module in ("sqlalchemy", "fastapi", "uvicorn"):
    require(_module, "annotate", "annotation (elkit annotate, db-in, db-out, drop, datasets)")

from elkit.annotate.hashing import input_hash, set_hashes, task_hash  # noqa: E402 - after the check
from elkit.annotate.store import Store, default_database_url  # noqa: E402 - after the check

__all__ = ["Store", "default_database_url", "input_hash", "set_hashes", "task_hash"]
