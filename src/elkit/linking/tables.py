"""What annotated documents teach a linker before any weights: mention → entity counts and entity contexts.

Both tables are counted per training document, so that while the linker trains on a document it can look at
the counts *without* that document (leave-one-document-out). Otherwise a feature such as p(entity | mention)
would have seen the answer and the scorer would learn to trust it far too much.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from elkit.doc import NIL, Doc, Span
from elkit.kb.normalize import AliasNormalizer
from elkit.linking.abbreviations import expand, find_abbreviations

__all__ = ["EntityContexts", "MentionMemory", "MentionTable", "doc_key"]


def doc_key(doc: Doc) -> str:
    """A stable key for a document's text (the same text read twice gets the same key)."""
    return hashlib.blake2b(doc.text.encode("utf-8"), digest_size=12).hexdigest()


class MentionTable:
    """How often each mention text (as written, and normalised) was linked to each entity, NIL included.

    Args:
        normalizer: Turns a mention into its normalised key.
    """

    def __init__(self, normalizer: AliasNormalizer | None = None) -> None:
        self.normalizer = normalizer or AliasNormalizer()
        self.exact: dict[str, Counter[str]] = {}
        self.normal: dict[str, Counter[str]] = {}
        self._by_doc: dict[str, list[tuple[str, str, str]]] = {}

    def __len__(self) -> int:
        return len(self.exact)

    def add_docs(self, docs: Iterable[Doc], resolve: Any = None, abbreviations: bool = False,
                 file_key: Callable[[Doc], str] = doc_key) -> int:
        """Count the linked (or NIL) gold spans of `docs`; returns how many spans were counted.

        Args:
            docs: Documents whose ``ents`` carry gold ``kb_id`` values (spans without one are skipped).
            resolve: Maps a gold id to the KB's primary id (None when the id is unknown there); None keeps ids.
            abbreviations: Count a span that is an abbreviation defined in its document under its long form.
            file_key: Gives the key a document's rows are filed under (what :meth:`without` takes).
        """
        counted = 0
        for doc in docs:
            rows = self._by_doc.setdefault(file_key(doc), [])
            defined = find_abbreviations(doc.text) if abbreviations else {}
            for span in doc.ents:
                if not span.kb_id:
                    continue
                entity = span.kb_id
                if entity != NIL and resolve is not None:
                    entity = resolve(entity) or entity
                text = (expand(span.text, defined) if defined else None) or span.text
                key = self.normalizer(text)
                self.exact.setdefault(text, Counter())[entity] += 1
                if key:
                    self.normal.setdefault(key, Counter())[entity] += 1
                rows.append((text, key, entity))
                counted += 1
        return counted

    def without(self, key: str | None) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
        """The counts one document contributed (to subtract), as (exact, normalised)."""
        exact: dict[str, Counter[str]] = defaultdict(Counter)
        normal: dict[str, Counter[str]] = defaultdict(Counter)
        for text, normal_key, entity in self._by_doc.get(key or "", ()):
            exact[text][entity] += 1
            if normal_key:
                normal[normal_key][entity] += 1
        return exact, normal

    @staticmethod
    def _lookup(table: Mapping[str, Counter[str]], held_out: Mapping[str, Counter[str]], key: str) -> Counter[str]:
        counts = table.get(key)
        if not counts:
            return Counter()
        removed = held_out.get(key)
        if removed:
            counts = counts - removed  # Counter subtraction drops zero and negative counts
        return counts

    def lookup(self, text: str, held_out: tuple[Mapping[str, Counter[str]], Mapping[str, Counter[str]]] = ({}, {})
               ) -> tuple[Counter[str], Counter[str]]:
        """The entity counts for a mention as written and for its normalised key, minus `held_out`."""
        return (self._lookup(self.exact, held_out[0], text),
                self._lookup(self.normal, held_out[1], self.normalizer(text)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts (the per-document split is only needed while training and is not kept)."""
        return {"exact": {key: dict(value) for key, value in self.exact.items()},
                "normal": {key: dict(value) for key, value in self.normal.items()}}

    def load_dict(self, data: Mapping[str, Any]) -> None:
        """Load counts written by :meth:`to_dict`."""
        self.exact = {key: Counter(value) for key, value in data.get("exact", {}).items()}
        self.normal = {key: Counter(value) for key, value in data.get("normal", {}).items()}
        self._by_doc = {}


class EntityContexts:
    """A context vector per entity: the sum of the (unit) context vectors of its training mentions.

    Entities are learned from how they are talked about. Per-document sums are kept while training so a
    document's own mentions can be left out of the vectors it is trained against.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.sums: dict[str, np.ndarray] = {}
        self.counts: Counter[str] = Counter()
        self._by_doc: dict[str, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.sums)

    def add(self, key: str, entity: str, vector: np.ndarray) -> None:
        """Add one mention's context vector for `entity`, recorded under document `key`."""
        if entity not in self.sums:
            self.sums[entity] = np.zeros(self.dim, dtype=np.float32)
        self.sums[entity] += vector
        self.counts[entity] += 1
        per_doc = self._by_doc.setdefault(key, {})
        if entity not in per_doc:
            per_doc[entity] = np.zeros(self.dim + 1, dtype=np.float32)
        per_doc[entity][:-1] += vector
        per_doc[entity][-1] += 1

    def vector(self, entity: str, held_out: str | None = None) -> np.ndarray | None:
        """The unit context vector of `entity` (without document `held_out`), None when it has none."""
        total = self.sums.get(entity)
        if total is None:
            return None
        count = self.counts[entity]
        if held_out is not None:
            removed = self._by_doc.get(held_out, {}).get(entity)
            if removed is not None:
                total = total - removed[:-1]
                count -= int(removed[-1])
        if count <= 0:
            return None
        norm = float(np.linalg.norm(total))
        return None if norm == 0.0 else (total / norm).astype(np.float32)

    def count(self, entity: str, held_out: str | None = None) -> int:
        """How many training mentions `entity`'s vector is made of (without document `held_out`)."""
        count = self.counts.get(entity, 0)
        if held_out is not None and count:
            removed = self._by_doc.get(held_out, {}).get(entity)
            if removed is not None:
                count -= int(removed[-1])
        return count

    def freeze(self) -> None:
        """Drop the per-document split once training is over."""
        self._by_doc = {}

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
        self._by_doc = {}


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
        self._by_key: dict[str, list[int]] = {}
        self._entities: list[str] = []
        self._held: list[str] = []
        self._local: list[np.ndarray] = []
        self._doc_rows: list[int] = []
        self._documents: list[np.ndarray] = []
        self._document_index: dict[str, int] = {}
        self._compiled: tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._entities)

    def add(self, key: str, entity: str, held_key: str, document: str, contexts: np.ndarray) -> None:
        """Remember one gold mention.

        Args:
            key: The mention's normalised text.
            entity: Its gold entity id (or NIL).
            held_key: What it is left out under while training (its document's, or its block's, key).
            document: Its document's key (the document vector is kept once per document).
            contexts: [2, dim] local and document context vectors.
        """
        if not key:
            return
        if document not in self._document_index:
            self._document_index[document] = len(self._documents)
            self._documents.append(contexts[1].astype(np.float16))
        self._by_key.setdefault(key, []).append(len(self._entities))
        self._entities.append(entity)
        self._held.append(held_key)
        self._local.append(contexts[0].astype(np.float16))
        self._doc_rows.append(self._document_index[document])
        self._compiled = None

    def _compile(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        if self._compiled is None:
            local = (np.stack(self._local).astype(np.float32) if self._local
                     else np.zeros((0, self.dim), dtype=np.float32))
            documents = (np.stack(self._documents).astype(np.float32) if self._documents
                         else np.zeros((0, self.dim), dtype=np.float32))
            by_key = {key: np.asarray(rows, dtype=np.int64) for key, rows in self._by_key.items()}
            self._compiled = (by_key, local, documents, np.asarray(self._doc_rows, dtype=np.int64))
        return self._compiled

    def lookup(self, key: str, contexts: np.ndarray, held_out: str | None = None
               ) -> tuple[dict[str, float], dict[str, float], str, str]:
        """Neighbour-weighted entity shares for a mention.

        Args:
            key: The mention's normalised text.
            contexts: [2, dim] its local and document context vectors.
            held_out: Leave out the occurrences filed under this key (the mention's own document while training).

        Returns:
            (local shares, document shares, entity of the nearest occurrence by local context, the same by
            document context); empty when the text was never seen.
        """
        by_key, local, documents, doc_rows = self._compile()
        rows = by_key.get(key)
        if rows is None or not contexts.size:
            return {}, {}, "", ""
        if held_out is not None:
            rows = rows[[self._held[row] != held_out for row in rows.tolist()]]
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
        """Drop the held-out keys once training is over."""
        self._held = [""] * len(self._entities)

    def arrays(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The memory as arrays for saving.

        Returns:
            (one JSON [key, entity] pair per row, [N, dim] local vectors, [N] document rows, [M, dim] documents).
        """
        rows = [""] * len(self._entities)
        for key, found in self._by_key.items():
            for row in found:
                rows[row] = json.dumps([key, self._entities[row]], ensure_ascii=False)
        local = np.stack(self._local) if self._local else np.zeros((0, self.dim), dtype=np.float16)
        documents = np.stack(self._documents) if self._documents else np.zeros((0, self.dim), dtype=np.float16)
        return rows, local, np.asarray(self._doc_rows, dtype=np.int64), documents

    def load_arrays(self, rows: list[str], local: np.ndarray, doc_rows: np.ndarray, documents: np.ndarray) -> None:
        """Load what :meth:`arrays` returned."""
        if not (len(rows) == len(local) == len(doc_rows)):
            raise ValueError(f"memory rows disagree: {len(rows)} keys, {len(local)} vectors, {len(doc_rows)} rows")
        self._by_key = {}
        self._entities = []
        for row, line in enumerate(rows):
            try:
                key, entity = json.loads(line)
            except (ValueError, TypeError) as error:
                raise ValueError(f"memory row {row + 1}: not a [key, entity] pair ({error})") from None
            self._by_key.setdefault(key, []).append(row)
            self._entities.append(entity)
        self._held = [""] * len(rows)
        self._local = list(local.astype(np.float16))
        self._doc_rows = doc_rows.astype(np.int64).tolist()
        self._documents = list(documents.astype(np.float16))
        self._document_index = {}
        self._compiled = None


def linked_spans(doc: Doc) -> list[Span]:
    """The gold spans of a document that carry a kb_id (NIL included)."""
    return [span for span in doc.ents if span.kb_id]
