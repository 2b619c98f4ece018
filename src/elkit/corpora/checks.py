"""What to check in training data before training on it (``elkit debug data``).

For a training and a dev corpus: label counts on each side, labels found in only one, entities that cross a
sentence boundary (a sentence-level recognizer cannot learn them), entities longer than the recognizer's
``max_width``, spans in ``doc.spans`` groups that overlap (``doc.ents`` cannot overlap), documents without
entities, duplicate texts shared between train and dev (leaked evaluation), and for linking: linked / NIL /
unlinked mentions and gold ids the KB does not know.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from elkit.corpora.base import mentions
from elkit.doc import NIL, Doc, Span

__all__ = ["DataCheck", "SplitCheck", "check_data"]

_EXAMPLES = 5


@dataclass
class SplitCheck:
    """The findings on one corpus (train or dev).

    Attributes:
        documents / tokens / entities: Sizes.
        labels: Entities per label.
        empty_documents: Documents without any entity.
        crossing: Entities across a sentence boundary (count, then a few as "doc: text").
        too_long: Entities longer than ``max_width`` words.
        overlapping: Overlapping pairs inside span groups.
        linked / nil / unlinked: Mentions with an id, with NIL, with neither.
        unknown_ids: Gold ids the KB does not know.
        examples: A few instances of each finding, by finding name.
    """

    documents: int = 0
    tokens: int = 0
    entities: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    empty_documents: int = 0
    crossing: int = 0
    too_long: int = 0
    overlapping: int = 0
    linked: int = 0
    nil: int = 0
    unlinked: int = 0
    unknown_ids: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, finding: str, text: str) -> None:
        """Keep `text` as an example of `finding` (the first few only)."""
        kept = self.examples.setdefault(finding, [])
        if len(kept) < _EXAMPLES:
            kept.append(text)


@dataclass
class DataCheck:
    """Both corpora, and what concerns them together.

    Attributes:
        train / dev: Per-corpus findings.
        only_in_dev: Labels in dev that training never shows.
        only_in_train: Labels training has and dev never tests.
        shared_texts: Documents whose text is in both (dev scores would flatter the model).
    """

    train: SplitCheck
    dev: SplitCheck
    only_in_dev: list[str]
    only_in_train: list[str]
    shared_texts: int

    @property
    def problems(self) -> list[str]:
        """One line per finding that would hurt training or evaluation (empty when the data looks sound)."""
        found = []
        if self.only_in_dev:
            found.append(f"dev has labels training never shows: {', '.join(self.only_in_dev)}")
        if self.shared_texts:
            found.append(f"{self.shared_texts:,} dev documents also appear in train")
        for name, split in (("train", self.train), ("dev", self.dev)):
            if split.crossing:
                found.append(f"{name}: {split.crossing:,} entities cross a sentence boundary")
            if split.too_long:
                found.append(f"{name}: {split.too_long:,} entities are longer than max_width")
            if split.unknown_ids:
                found.append(f"{name}: {split.unknown_ids:,} gold ids are not in the KB")
        if not self.train.entities:
            found.append("train: no entities at all")
        return found

    def to_dict(self) -> dict[str, Any]:
        """The findings as JSON-ready values."""
        def split(check: SplitCheck) -> dict[str, Any]:
            values = dict(vars(check))
            values["labels"] = dict(sorted(check.labels.items()))
            return values

        return {"train": split(self.train), "dev": split(self.dev), "only_in_dev": self.only_in_dev,
                "only_in_train": self.only_in_train, "shared_texts": self.shared_texts, "problems": self.problems}


def _where(doc: Doc, number: int, span: Span) -> str:
    return f"{doc.meta.get('id', f'document {number + 1}')}: {span.text!r} ({span.label})"


def _check(docs: Iterable[Doc], max_width: int | None, known_id: Callable[[str], bool] | None) -> SplitCheck:
    check = SplitCheck()
    for number, doc in enumerate(docs):
        check.documents += 1
        check.tokens += len(doc)
        spans = mentions(doc)
        if not spans:
            check.empty_documents += 1
        starts = set(doc.sentence_starts or [0])
        for span in spans:
            check.entities += 1
            check.labels[span.label] += 1
            if any(index in starts for index in range(span.start + 1, span.end)):
                check.crossing += 1
                check.note("crossing", _where(doc, number, span))
            if max_width is not None and len(span) > max_width:
                check.too_long += 1
                check.note("too_long", _where(doc, number, span))
            if span.kb_id == NIL:
                check.nil += 1
            elif span.kb_id:
                check.linked += 1
                if known_id is not None and not known_id(span.kb_id):
                    check.unknown_ids += 1
                    check.note("unknown_ids", f"{_where(doc, number, span)} → {span.kb_id}")
            else:
                check.unlinked += 1
        for key, group in doc.spans.items():
            ordered = sorted(group, key=lambda item: (item.start, item.end))
            for first, second in pairwise(ordered):
                if second.start < first.end:
                    check.overlapping += 1
                    check.note("overlapping", f"{doc.meta.get('id', number + 1)} [{key}]: {first.text!r} / "
                                              f"{second.text!r}")
    return check


def check_data(train: Sequence[Doc], dev: Sequence[Doc], *, max_width: int | None = None,
               known_id: Callable[[str], bool] | None = None) -> DataCheck:
    """Check a training and a dev corpus (see the module docstring).

    Args:
        train: Training documents.
        dev: Dev documents.
        max_width: The recognizer's longest span in words (None: not checked).
        known_id: Tells whether the KB knows an id (None: not checked).
    """
    train_check = _check(train, max_width, known_id)
    dev_check = _check(dev, max_width, known_id)
    texts = {doc.text for doc in train}
    return DataCheck(
        train=train_check, dev=dev_check,
        only_in_dev=sorted(set(dev_check.labels) - set(train_check.labels)),
        only_in_train=sorted(set(train_check.labels) - set(dev_check.labels)),
        shared_texts=sum(doc.text in texts for doc in dev),
    )
