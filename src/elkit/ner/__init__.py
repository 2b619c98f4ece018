"""Named-entity recognition: the span-scoring model, its encoders, decoding and the pattern matcher."""

from elkit.ner.component import SpanNER, SpanScores
from elkit.ner.ruler import EntityRuler

__all__ = ["EntityRuler", "SpanNER", "SpanScores"]
