"""Named-entity recognition: the span-scoring model, the zero-shot model, encoders, decoding and the pattern matcher."""

from elkit.ner.component import SpanNER, SpanScores
from elkit.ner.labels import LabelSet
from elkit.ner.ruler import EntityRuler, EntityRulerSettings
from elkit.ner.settings import HashCNNSettings, SpanNERSettings, TransformerEncoderSettings, ZeroShotNERSettings
from elkit.ner.zeroshot import ZeroShotNER

__all__ = [
    "EntityRuler",
    "EntityRulerSettings",
    "HashCNNSettings",
    "LabelSet",
    "SpanNER",
    "SpanNERSettings",
    "SpanScores",
    "TransformerEncoderSettings",
    "ZeroShotNER",
    "ZeroShotNERSettings",
]
