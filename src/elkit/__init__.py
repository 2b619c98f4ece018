"""elkit: find named entities in text and ground them in a knowledge base.

The public surface is what ``__all__`` lists; everything else is reachable through its subpackage.
"""

from elkit.doc import NIL, Candidate, Doc, Span, Token
from elkit.errors import ElkitError
from elkit.kb import KnowledgeBase, open_kb
from elkit.pipeline import Pipeline, load

__version__ = "0.1.0"

__all__ = [
    "NIL",
    "Candidate",
    "Doc",
    "ElkitError",
    "KnowledgeBase",
    "Pipeline",
    "Span",
    "Token",
    "__version__",
    "load",
    "open_kb",
]
