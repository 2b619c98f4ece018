"""Aliases from a linked corpus: each mention's text becomes an alias of its gold entity, weighted by count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from elkit.corpora.base import mentions
from elkit.corpora.pubtator import split_ids
from elkit.doc import NIL, Doc

__all__ = ["mention_alias_counts"]


def mention_alias_counts(docs: Iterable[Doc]) -> Counter[tuple[str, str]]:
    """Count (mention text, entity id) pairs over the linked mentions of `docs`.

    A composite id ("D001|D002") counts for each of its parts; NIL and unlinked mentions are left out.
    """
    counts: Counter[tuple[str, str]] = Counter()
    for doc in docs:
        for span in mentions(doc):
            if not span.kb_id or span.kb_id == NIL or not span.text.strip():
                continue
            for entity_id in split_ids(span.kb_id):
                counts[(span.text, entity_id)] += 1
    return counts
