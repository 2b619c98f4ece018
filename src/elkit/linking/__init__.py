"""Entity linking: the trainable `EntityLinker`, the `GeneralLinker` that needs no training, and their stages."""

from __future__ import annotations

from typing import Any

from elkit.linking.component import EntityLinker, LinkPrediction
from elkit.linking.general import GeneralLinker, GeneralLinkerSettings
from elkit.linking.settings import EntityLinkerSettings
from elkit.linking.training import LinkerTraining, fit_linker, link_gold_mentions, strip_links

__all__ = [
    "EntityLinker",
    "EntityLinkerSettings",
    "GeneralLinker",
    "GeneralLinkerSettings",
    "LinkPrediction",
    "LinkerTraining",
    "fit_linker",
    "is_linker",
    "link_gold_mentions",
    "strip_links",
]


def is_linker(component: Any) -> bool:
    """True for a component that links spans to a KB (`EntityLinker` or `GeneralLinker`)."""
    return isinstance(component, EntityLinker | GeneralLinker)
