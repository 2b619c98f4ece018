"""elkit: find named entities in text and ground them in a knowledge base.

The public surface is what ``__all__`` lists; everything else is reachable through its subpackage. Importing
``elkit`` is light: the error classes are loaded at once, every other name the first time it is used, so
``import elkit`` neither imports torch nor reads a model.

    import elkit

    nlp = elkit.load("my_model")                        # a saved folder, a config.toml or an installed package
    nlp = elkit.create_simple("entities.jsonl")         # find and link entities with no annotated data
    doc = nlp("Paris Hilton visited Paris, Texas.")
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from elkit.errors import (
    AlignmentError,
    ConfigError,
    DataError,
    ElkitError,
    FormatError,
    KBError,
    ModelError,
    StoreError,
)

if _typing.TYPE_CHECKING:
    from elkit import registry
    from elkit.doc import NIL, Candidate, Doc, Example, Span, Token
    from elkit.kb import KnowledgeBase, open_kb
    from elkit.linking.builder import create_simple
    from elkit.packaging import load
    from elkit.pipeline import Pipeline
    from elkit.registry import factories, tokenizers
    from elkit.settings import Settings

__version__ = "0.1.0"

_LAZY: dict[str, tuple[str, str | None]] = {
    "Candidate": ("elkit.doc", "Candidate"),
    "Doc": ("elkit.doc", "Doc"),
    "Example": ("elkit.doc", "Example"),
    "KnowledgeBase": ("elkit.kb.base", "KnowledgeBase"),
    "NIL": ("elkit.doc", "NIL"),
    "Pipeline": ("elkit.pipeline.pipeline", "Pipeline"),
    "Settings": ("elkit.settings", "Settings"),
    "Span": ("elkit.doc", "Span"),
    "Token": ("elkit.doc", "Token"),
    "create_simple": ("elkit.linking.builder", "create_simple"),
    "factories": ("elkit.registry", "factories"),
    "load": ("elkit.packaging", "load"),
    "open_kb": ("elkit.kb", "open_kb"),
    "registry": ("elkit.registry", None),
    "tokenizers": ("elkit.registry", "tokenizers"),
}

__all__ = [
    "NIL",
    "AlignmentError",
    "Candidate",
    "ConfigError",
    "DataError",
    "Doc",
    "ElkitError",
    "Example",
    "FormatError",
    "KBError",
    "KnowledgeBase",
    "ModelError",
    "Pipeline",
    "Settings",
    "Span",
    "StoreError",
    "Token",
    "__version__",
    "create_simple",
    "factories",
    "load",
    "open_kb",
    "registry",
    "tokenizers",
]


def __getattr__(name: str) -> _typing.Any:
    """Import a public name the first time it is used."""
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'elkit' has no attribute {name!r}") from None
    module = _importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
