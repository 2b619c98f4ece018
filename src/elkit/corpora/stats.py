"""Corpus statistics: documents, sentences, tokens, entities per label, linked and NIL mentions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from elkit.corpora.base import mentions
from elkit.doc import NIL, Doc
from elkit.tokenize import split_sentences

__all__ = ["CorpusStats", "corpus_stats"]


@dataclass
class CorpusStats:
    """Counts over a corpus.

    Attributes:
        documents: Number of documents.
        sentences: Number of sentences (from the file's own boundaries, else the sentence splitter).
        tokens: Number of tokens.
        entities: Number of mentions.
        labels: Mentions per label.
        linked: Mentions with a knowledge-base id.
        nil: Mentions marked NIL (outside the knowledge base).
        unlinked: Mentions with no id at all.
    """

    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    entities: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    linked: int = 0
    nil: int = 0
    unlinked: int = 0

    def add(self, doc: Doc) -> None:
        """Count one document."""
        self.documents += 1
        self.tokens += len(doc)
        if doc.has_sentences:
            self.sentences += len(doc.sentence_starts or [])
        elif len(doc):
            self.sentences += len(split_sentences(doc))
        for span in mentions(doc):
            self.entities += 1
            self.labels[span.label] += 1
            if span.kb_id == NIL:
                self.nil += 1
            elif span.kb_id:
                self.linked += 1
            else:
                self.unlinked += 1

    def to_dict(self) -> dict[str, Any]:
        """The counts as a JSON-ready dict."""
        return {
            "documents": self.documents,
            "sentences": self.sentences,
            "tokens": self.tokens,
            "entities": self.entities,
            "labels": dict(sorted(self.labels.items())),
            "linked": self.linked,
            "nil": self.nil,
            "unlinked": self.unlinked,
        }


def corpus_stats(docs: Iterable[Doc]) -> CorpusStats:
    """Count documents, sentences, tokens and mentions over a stream of documents."""
    stats = CorpusStats()
    for doc in docs:
        stats.add(doc)
    return stats
