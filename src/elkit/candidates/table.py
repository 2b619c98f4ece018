"""Candidates from annotated text: how often each mention text was linked to each entity in training.

`MentionTable` counts the mention → entity pairs of gold documents (NIL included), once as written and once
under the mention's normalised key, and keeps the counts per block of training documents, so that while a
linker trains on a document it can look at the counts *without* that document's block (otherwise a feature
such as p(entity | mention) would have seen the answer, and the scorer would learn to trust it far too much).

`TableGenerator` turns the counts into candidates like the other generators do, with the entity's share of the
mention's counts as its ``"table"`` score.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from elkit.candidates.generators import Mention, mention_text
from elkit.doc import NIL, Candidate
from elkit.kb.base import KnowledgeBase
from elkit.kb.normalize import AliasNormalizer

__all__ = ["MentionTable", "TableGenerator"]


def _minus(table: Mapping[str, Counter[str]], left_out: Mapping[str, Counter[str]], key: str) -> Counter[str]:
    """The counts of `key` in `table`, minus those in `left_out`."""
    counts = table.get(key)
    if not counts:
        return Counter()
    removed = left_out.get(key)
    if removed:
        counts = counts - removed  # Counter subtraction drops zero and negative counts
    return counts


class MentionTable:
    """How often each mention text (as written, and normalised) was linked to each entity, NIL included.

    Args:
        normalizer: Turns a mention into its normalised key.
    """

    def __init__(self, normalizer: AliasNormalizer | None = None) -> None:
        self.normalizer = normalizer or AliasNormalizer()
        self.exact: dict[str, Counter[str]] = {}
        self.normal: dict[str, Counter[str]] = {}
        self._by_block: dict[str, list[tuple[str, str, str]]] = {}

    def __len__(self) -> int:
        return len(self.exact)

    def clear(self) -> None:
        """Forget every count."""
        self.exact = {}
        self.normal = {}
        self._by_block = {}

    def add(self, block_key: str, text: str, entity: str) -> None:
        """Count one gold mention.

        Args:
            block_key: The block of training documents it belongs to (what :meth:`lookup` can leave out).
            text: The mention text (or the long form of an abbreviation).
            entity: Its gold entity id, or NIL.
        """
        normal_key = self.normalizer(text)
        self.exact.setdefault(text, Counter())[entity] += 1
        if normal_key:
            self.normal.setdefault(normal_key, Counter())[entity] += 1
        self._by_block.setdefault(block_key, []).append((text, normal_key, entity))

    def lookup(self, text: str, left_out: str = "") -> tuple[Counter[str], Counter[str]]:
        """The entity counts for a mention as written and for its normalised key.

        Args:
            text: The mention text.
            left_out: A block of training documents whose counts are left out ("" leaves nothing out).
        """
        exact_left_out, normal_left_out = self._block_counts(left_out) if left_out else ({}, {})
        return (_minus(self.exact, exact_left_out, text), _minus(self.normal, normal_left_out, self.normalizer(text)))

    def _block_counts(self, block_key: str) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
        """The counts one block of documents contributed (to subtract), as (exact, normalised)."""
        exact: dict[str, Counter[str]] = defaultdict(Counter)
        normal: dict[str, Counter[str]] = defaultdict(Counter)
        for text, normal_key, entity in self._by_block.get(block_key, ()):
            exact[text][entity] += 1
            if normal_key:
                normal[normal_key][entity] += 1
        return exact, normal

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts (the per-block split is only needed while training and is not kept)."""
        return {"exact": {key: dict(value) for key, value in self.exact.items()},
                "normal": {key: dict(value) for key, value in self.normal.items()}}

    def load_dict(self, data: Mapping[str, Any]) -> None:
        """Load counts written by :meth:`to_dict`."""
        self.exact = {key: Counter(value) for key, value in data.get("exact", {}).items()}
        self.normal = {key: Counter(value) for key, value in data.get("normal", {}).items()}
        self._by_block = {}


class TableGenerator:
    """The entities a mention text was linked to in training, most often first, with their share as score.

    The counts of the text as written are used when there are any, else those of its normalised key; NIL is
    never a candidate, but its count is part of the total the shares are taken of.

    Args:
        table: The counts.
        kb: When given, entities the KB does not know are left out.
    """

    name = "table"

    def __init__(self, table: MentionTable, kb: KnowledgeBase | None = None) -> None:
        self.table = table
        self.kb = kb

    def __call__(self, mention: Mention) -> list[Candidate]:
        """Return the candidates of one mention, most often linked first."""
        return self.batch([mention])[0]

    def batch(self, mentions: Sequence[Mention], left_out: Sequence[str] | None = None) -> list[list[Candidate]]:
        """Return the candidates of each mention.

        Args:
            mentions: The mentions.
            left_out: Per mention, the block of training documents whose counts are left out ("" for none).
        """
        blocks = left_out if left_out is not None else [""] * len(mentions)
        return [self._candidates(mention_text(mention), block) for mention, block in zip(mentions, blocks,
                                                                                            strict=True)]

    def _candidates(self, text: str, block_key: str) -> list[Candidate]:
        exact, normal = self.table.lookup(text, block_key) if len(self.table) else (Counter(), Counter())
        counts = exact or normal
        if not counts:
            return []
        total = sum(counts.values())
        return [
            Candidate.trusted(entity, text, 0.0, {"table": count / total})
            for entity, count in counts.most_common()
            if entity != NIL and (self.kb is None or entity in self.kb)
        ]
