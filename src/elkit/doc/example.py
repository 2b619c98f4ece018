"""Training examples: a gold document, or binary answers about single spans (ner.teach)."""

from __future__ import annotations

from dataclasses import dataclass

from elkit.doc.doc import Doc
from elkit.errors import DataError

__all__ = ["Example", "SpanAnswer"]


@dataclass(frozen=True, slots=True)
class SpanAnswer:
    """One binary answer: the words ``[start, end)`` are (``accept``) or are not a ``label``.

    Attributes:
        start: First word.
        end: One past the last word.
        label: The entity label asked about.
        accept: True if the span is a ``label`` entity, False if it is not.
    """

    start: int
    end: int
    label: str
    accept: bool


@dataclass(frozen=True, slots=True)
class Example:
    """What a trainable component learns from.

    Attributes:
        reference: The document with its gold annotation (``ents``).
        complete: True when ``reference.ents`` lists every entity, so any other span is a negative for every
            label. False for partial annotation: only ``answers`` (and the listed entities) are learned from.
        answers: Binary answers about single spans, as ner.teach collects them.
    """

    reference: Doc
    complete: bool = True
    answers: tuple[SpanAnswer, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.reference, Doc):
            raise DataError(f"Example.reference must be a Doc, got {type(self.reference).__name__}")
        for answer in self.answers:
            if not 0 <= answer.start < answer.end <= len(self.reference):
                raise DataError(
                    f"answer span [{answer.start}, {answer.end}) is outside the document ({len(self.reference)} "
                    f"words)"
                )

    @classmethod
    def binary(cls, doc: Doc, start: int, end: int, label: str, accept: bool) -> Example:
        """An example holding one binary answer about ``doc[start:end]``."""
        return cls(doc, complete=False, answers=(SpanAnswer(start, end, label, accept),))
