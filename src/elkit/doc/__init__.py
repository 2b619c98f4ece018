"""The document model: ``Doc``, ``Token``, ``Span`` and ``Candidate``. Plain Python: no torch, no KB."""

from elkit.doc.doc import AlignmentMode, Doc, SpanGroups
from elkit.doc.example import Example, SpanAnswer
from elkit.doc.span import NIL, Candidate, Span
from elkit.doc.token import Token, word_shape

__all__ = [
    "NIL", "AlignmentMode", "Candidate", "Doc", "Example", "Span", "SpanAnswer", "SpanGroups", "Token", "word_shape",
]
