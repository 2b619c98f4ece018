"""What annotated documents teach a linker besides weights: entity contexts and the mention memory.

Both are kept per block of training documents, so that while the linker trains on a document it can look at
them *without* that document's block (leave-one-block-out), as the mention → entity counts
(`elkit.candidates.MentionTable`) are. Otherwise a feature would have seen the answer and the scorer would learn
to trust it far too much.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

import numpy as np

from elkit.doc import Doc

__all__ = ["PATTERN_PREFIX", "EntityContexts", "MentionMemory", "add_pattern_contexts", "document_key",
           "name_pattern", "pattern_evidence"]

PATTERN_PREFIX = "\x1fpattern\x1f"
"""Starts the `EntityContexts` keys of name patterns, which no entity id does."""

_EVERY_MENTION = PATTERN_PREFIX + "\x1fevery mention"
_DOCUMENT = "\x1fdocument"


def document_key(doc: Doc) -> str:
    """A stable key for a document's text (the same text read twice gets the same key)."""
    return hashlib.blake2b(doc.text.encode("utf-8"), digest_size=12).hexdigest()


def name_pattern(entity_name: str, mention: str) -> str:
    """The `EntityContexts` key of the pattern the entity's name makes around the mention ("" when none).

    The pattern is the lower-cased name with the mention replaced by ``{}``: "Chile" → "Chile national football
    team" gives "{} national football team", "Havre" → "Havre, Montana" gives "{}, montana", a name equal to the
    mention gives "{}". Patterns are shared by many entities, so the contexts they were linked in during training
    are evidence for entities never seen there (a country's name in a football report is its national team).
    """
    text = " ".join(mention.lower().split())
    name = entity_name.lower()
    if not text or text not in name:
        return ""
    return PATTERN_PREFIX + name.replace(text, "{}", 1)


def add_pattern_contexts(entity_contexts: EntityContexts, block_key: str, pattern: str, contexts: np.ndarray
                         ) -> None:
    """Record a training mention's [2, D] (local, document) contexts for its name pattern and for every mention."""
    for key in (pattern, _EVERY_MENTION) if pattern else (_EVERY_MENTION,):
        entity_contexts.add(block_key, key, contexts[0])
        entity_contexts.add(block_key, key + _DOCUMENT, contexts[1])


def pattern_evidence(patterns: list[str], entity_contexts: EntityContexts, contexts: np.ndarray,
                     left_out: str | None) -> tuple[np.ndarray, np.ndarray]:
    """([C, 2] centred cosines of the mention's local and document contexts with each pattern's, [C] counts).

    Both sides are centred on the mean context of every training mention, so the cosine says whether the mention
    is talked about the way the pattern's entities were *more* than mentions in general ("{}" alone, the pattern
    of most mentions, stays near zero). The block `left_out` is left out of every mean.
    """
    similarities = np.zeros((len(patterns), 2), dtype=np.float32)
    counts = np.zeros(len(patterns), dtype=np.float32)
    for column, suffix in enumerate(("", _DOCUMENT)):
        centre = entity_contexts.mean(_EVERY_MENTION + suffix, left_out)
        if centre is None:
            continue
        context = contexts[column] - centre
        norm = float(np.linalg.norm(context))
        if norm < 1e-6:
            continue
        context /= norm
        means: dict[str, np.ndarray | None] = {}
        for row, pattern in enumerate(patterns):
            if not pattern:
                continue
            if pattern not in means:
                means[pattern] = entity_contexts.mean(pattern + suffix, left_out)
            mean = means[pattern]
            if mean is None:
                continue
            shifted = mean - centre
            length = float(np.linalg.norm(shifted))
            if length > 1e-6:
                similarities[row, column] = float(shifted @ context) / length
                counts[row] = entity_contexts.count(pattern, left_out)
    return similarities, counts


class EntityContexts:
    """A context vector per entity: the sum of the (unit) context vectors of its training mentions.

    Name patterns (`name_pattern`) are kept the same way, under keys that start with `PATTERN_PREFIX`.

    Entities are learned from how they are talked about. Per-block sums are kept while training so a document's
    own mentions (its block's) can be left out of the vectors it is trained against.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.sums: dict[str, np.ndarray] = {}
        self.counts: Counter[str] = Counter()
        self._by_block: dict[str, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.sums)

    def add(self, block_key: str, entity: str, vector: np.ndarray) -> None:
        """Add one mention's context vector for `entity`, recorded under its block of training documents."""
        if entity not in self.sums:
            self.sums[entity] = np.zeros(self.dim, dtype=np.float32)
        self.sums[entity] += vector
        self.counts[entity] += 1
        per_block = self._by_block.setdefault(block_key, {})
        if entity not in per_block:
            per_block[entity] = np.zeros(self.dim + 1, dtype=np.float32)
        per_block[entity][:-1] += vector
        per_block[entity][-1] += 1

    def _total(self, entity: str, left_out: str | None) -> tuple[np.ndarray, int] | None:
        """(sum, count) of `entity`'s context vectors without the block `left_out`; None when none are left."""
        total = self.sums.get(entity)
        if total is None:
            return None
        count = self.counts[entity]
        if left_out is not None:
            removed = self._by_block.get(left_out, {}).get(entity)
            if removed is not None:
                total = total - removed[:-1]
                count -= int(removed[-1])
        return (total, count) if count > 0 else None

    def vector(self, entity: str, left_out: str | None = None) -> np.ndarray | None:
        """The unit context vector of `entity` (without the block `left_out`), None when it has none."""
        found = self._total(entity, left_out)
        if found is None:
            return None
        norm = float(np.linalg.norm(found[0]))
        return None if norm == 0.0 else (found[0] / norm).astype(np.float32)

    def mean(self, entity: str, left_out: str | None = None) -> np.ndarray | None:
        """The mean context vector of `entity` (without the block `left_out`), None when it has none."""
        found = self._total(entity, left_out)
        return None if found is None else (found[0] / found[1]).astype(np.float32)

    def count(self, entity: str, left_out: str | None = None) -> int:
        """How many training mentions `entity`'s vector is made of (without the block `left_out`)."""
        count = self.counts.get(entity, 0)
        if left_out is not None and count:
            removed = self._by_block.get(left_out, {}).get(entity)
            if removed is not None:
                count -= int(removed[-1])
        return count

    def freeze(self) -> None:
        """Drop the per-block split once training is over."""
        self._by_block = {}

    def arrays(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(entity ids, [n, dim] sums, [n] counts) for saving."""
        entities = sorted(self.sums)
        sums = np.stack([self.sums[entity] for entity in entities]) if entities else np.zeros((0, self.dim))
        counts = np.asarray([self.counts[entity] for entity in entities], dtype=np.float32)
        return entities, sums.astype(np.float32), counts

    def load_arrays(self, entities: list[str], sums: np.ndarray, counts: np.ndarray) -> None:
        """Load what :meth:`arrays` returned."""
        self.sums = {entity: sums[row].astype(np.float32) for row, entity in enumerate(entities)}
        self.counts = Counter({entity: int(counts[row]) for row, entity in enumerate(entities)})
        self._by_block = {}


class MentionMemory:
    """Every training mention's context, filed under its normalised text: p(entity | mention, context) by neighbours.

    A count table says "England" is mostly the country; the memory says that in documents like this one (a
    football results table) "England" was the national team. For a mention it weighs each earlier occurrence of
    the same normalised text by how close its context is (softmax of cosines at a low temperature), once for the
    local context and once for the document context, and returns each entity's share of the weight.

    Args:
        dim: Context vector width.
        temperatures: Softmax temperatures for the (local, document) similarities.
    """

    def __init__(self, dim: int, temperatures: tuple[float, float] = (0.05, 0.02)) -> None:
        self.dim = dim
        self.temperatures = temperatures
        self._by_text: dict[str, list[int]] = {}
        self._entities: list[str] = []
        self._blocks: list[str] = []
        self._local: list[np.ndarray] = []
        self._doc_rows: list[int] = []
        self._documents: list[np.ndarray] = []
        self._document_index: dict[str, int] = {}
        self._compiled: tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._entities)

    def add(self, normalized_text: str, entity: str, block_key: str, document_key: str, contexts: np.ndarray
            ) -> None:
        """Remember one gold mention.

        Args:
            normalized_text: The mention's normalised text.
            entity: Its gold entity id (or NIL).
            block_key: The block of training documents it is left out with while training.
            document_key: Its document's key (`document_key`; the document vector is kept once per document).
            contexts: [2, dim] local and document context vectors.
        """
        if not normalized_text:
            return
        if document_key not in self._document_index:
            self._document_index[document_key] = len(self._documents)
            self._documents.append(contexts[1].astype(np.float16))
        self._by_text.setdefault(normalized_text, []).append(len(self._entities))
        self._entities.append(entity)
        self._blocks.append(block_key)
        self._local.append(contexts[0].astype(np.float16))
        self._doc_rows.append(self._document_index[document_key])
        self._compiled = None

    def _compile(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        if self._compiled is None:
            local = (np.stack(self._local).astype(np.float32) if self._local
                     else np.zeros((0, self.dim), dtype=np.float32))
            documents = (np.stack(self._documents).astype(np.float32) if self._documents
                         else np.zeros((0, self.dim), dtype=np.float32))
            by_text = {text: np.asarray(rows, dtype=np.int64) for text, rows in self._by_text.items()}
            self._compiled = (by_text, local, documents, np.asarray(self._doc_rows, dtype=np.int64))
        return self._compiled

    def lookup(self, normalized_text: str, contexts: np.ndarray, left_out: str | None = None
               ) -> tuple[dict[str, float], dict[str, float], str, str]:
        """Neighbour-weighted entity shares for a mention.

        Args:
            normalized_text: The mention's normalised text.
            contexts: [2, dim] its local and document context vectors.
            left_out: Leave out the occurrences of this block of training documents (the mention's own, while
                training).

        Returns:
            (local shares, document shares, entity of the nearest occurrence by local context, the same by
            document context); empty when the text was never seen.
        """
        by_text, local, documents, doc_rows = self._compile()
        rows = by_text.get(normalized_text)
        if rows is None or not contexts.size:
            return {}, {}, "", ""
        if left_out is not None:
            rows = rows[[self._blocks[row] != left_out for row in rows.tolist()]]
            if not len(rows):
                return {}, {}, "", ""
        entities = [self._entities[row] for row in rows.tolist()]
        output: list[Any] = []
        nearest = []
        for similarities, temperature in ((local[rows] @ contexts[0], self.temperatures[0]),
                                          (documents[doc_rows[rows]] @ contexts[1], self.temperatures[1])):
            weights = np.exp((similarities - similarities.max()) / temperature)
            weights /= weights.sum()
            shares: dict[str, float] = {}
            for entity, weight in zip(entities, weights.tolist(), strict=True):
                shares[entity] = shares.get(entity, 0.0) + weight
            output.append(shares)
            nearest.append(entities[int(similarities.argmax())])
        return output[0], output[1], nearest[0], nearest[1]

    def freeze(self) -> None:
        """Drop the block keys once training is over."""
        self._blocks = [""] * len(self._entities)

    def arrays(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The memory as arrays for saving.

        Returns:
            (one JSON [normalised text, entity] pair per row, [N, dim] local vectors, [N] document rows,
            [M, dim] documents).
        """
        rows = [""] * len(self._entities)
        for text, found in self._by_text.items():
            for row in found:
                rows[row] = json.dumps([text, self._entities[row]], ensure_ascii=False)
        local = np.stack(self._local) if self._local else np.zeros((0, self.dim), dtype=np.float16)
        documents = np.stack(self._documents) if self._documents else np.zeros((0, self.dim), dtype=np.float16)
        return rows, local, np.asarray(self._doc_rows, dtype=np.int64), documents

    def load_arrays(self, rows: list[str], local: np.ndarray, doc_rows: np.ndarray, documents: np.ndarray) -> None:
        """Load what :meth:`arrays` returned."""
        if not (len(rows) == len(local) == len(doc_rows)):
            raise ValueError(f"memory rows disagree: {len(rows)} keys, {len(local)} vectors, {len(doc_rows)} rows")
        self._by_text = {}
        self._entities = []
        for row, line in enumerate(rows):
            try:
                text, entity = json.loads(line)
            except (ValueError, TypeError) as error:
                raise ValueError(f"memory row {row + 1}: not a [key, entity] pair ({error})") from None
            self._by_text.setdefault(text, []).append(row)
            self._entities.append(entity)
        self._blocks = [""] * len(rows)
        self._local = list(local.astype(np.float16))
        self._doc_rows = doc_rows.astype(np.int64).tolist()
        self._documents = list(documents.astype(np.float16))
        self._document_index = {}
        self._compiled = None

