"""Entity linking: the trainable `EntityLinker`, its stages, its settings and its training loop."""

from __future__ import annotations

from elkit.linking.component import EntityLinker, LinkPrediction
from elkit.linking.settings import EntityLinkerSettings
from elkit.linking.training import LinkerTraining, fit_linker, link_gold_mentions, strip_links

__all__ = [
    "EntityLinker",
    "EntityLinkerSettings",
    "LinkPrediction",
    "LinkerTraining",
    "fit_linker",
    "link_gold_mentions",
    "strip_links",
]
