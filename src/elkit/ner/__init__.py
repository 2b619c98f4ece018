"""Named-entity recognition: the span-scoring model, its encoders, decoding and the pattern matcher."""

from elkit.ner.component import SpanNER, SpanScores
from elkit.ner.ruler import EntityRuler, EntityRulerSettings
from elkit.ner.settings import HashCNNSettings, SpanNERSettings, TransformerEncoderSettings

__all__ = [
    "EntityRuler",
    "EntityRulerSettings",
    "HashCNNSettings",
    "SpanNER",
    "SpanNERSettings",
    "SpanScores",
    "TransformerEncoderSettings",
]
