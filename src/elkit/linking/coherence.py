"""The linker's coherence stage: what the other mentions of a document say about each candidate.

After a first scoring pass, each mention gets three features for the second pass, from the first-pass
probabilities of the other mentions of its document (mentions of the same text excepted):

- ``coherence_same``: how much probability they give the same entity (log1p of the sum);
- ``coherence_related``: how close the candidate's vector is to their likely entities' vectors, weighted by how
  sure they are;
- ``coherence_containing``: the probability a longer mention containing this one ("Bill Clinton" for
  "Clinton") gives the same entity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from elkit.kb.normalize import AliasNormalizer
from elkit.linking.features import COHERENCE, EntityInfos, LinkInput, mark_pass
from elkit.linking.tables import EntityContexts

__all__ = ["EntityVectors", "add_coherence", "entity_vectors"]

EntityVectors = Callable[[Sequence[str]], np.ndarray]
"""Gives [n, D] vectors for n entity ids (zero rows for the empty id)."""


def entity_vectors(entity_ids: Sequence[str], entity_contexts: EntityContexts, infos: EntityInfos, dim: int
                   ) -> np.ndarray:
    """[n, dim]: each entity's learned context vector, or its text vector when it has none (zeros for "")."""
    rows = np.zeros((len(entity_ids), dim), dtype=np.float32)
    for row, entity in enumerate(entity_ids):
        if not entity:
            continue
        vector = entity_contexts.vector(entity)
        rows[row] = vector if vector is not None else infos(entity).text_vector
    return rows


def add_coherence(inputs: Sequence[LinkInput], probabilities: Sequence[np.ndarray], normalizer: AliasNormalizer,
                  vectors: EntityVectors | None) -> list[LinkInput]:
    """Copies of `inputs` with their coherence features filled from first-pass `probabilities`.

    Mentions are grouped by document (and, while training, by block of documents).

    Args:
        inputs: The scored mentions (each with candidates).
        probabilities: Their first-pass probabilities (candidates, then NIL).
        normalizer: Decides which mentions have the same text.
        vectors: Entity vectors for ``coherence_related`` (None: the feature stays zero).
    """
    output = list(inputs)
    groups: dict[tuple[int, str], list[int]] = {}
    for index, item in enumerate(inputs):
        groups.setdefault((item.mention.doc, item.mention.block_key), []).append(index)
    for indices in groups.values():
        texts = [normalizer(inputs[index].mention.span.text) for index in indices]
        tops: list[tuple[str, float]] = []
        for index in indices:
            found = probabilities[index][:-1]
            best = int(found.argmax()) if len(found) else -1
            tops.append((inputs[index].candidates[best].entity_id, float(found[best])) if best >= 0 else ("", 0.0))
        likely = vectors([entity for entity, _ in tops]) if vectors is not None else None
        for local, index in enumerate(indices):
            item = inputs[index]
            if not item.candidates:
                continue
            candidate_ids = [candidate.entity_id for candidate in item.candidates]
            same = np.zeros(len(candidate_ids), dtype=np.float32)
            containing = np.zeros(len(candidate_ids), dtype=np.float32)
            words = texts[local].split()
            weights = np.zeros(len(indices), dtype=np.float32)
            for other_local, other in enumerate(indices):
                if texts[other_local] == texts[local]:
                    continue
                weights[other_local] = tops[other_local][1]
                other_probabilities = dict(zip((candidate.entity_id for candidate in inputs[other].candidates),
                                               probabilities[other][:-1], strict=True))
                for row, entity in enumerate(candidate_ids):
                    same[row] += other_probabilities.get(entity, 0.0)
                other_words = texts[other_local].split()
                if words and len(other_words) > len(words) and _contains(other_words, words):
                    for row, entity in enumerate(candidate_ids):
                        containing[row] = max(containing[row], other_probabilities.get(entity, 0.0))
            related = np.zeros(len(candidate_ids), dtype=np.float32)
            if likely is not None and vectors is not None and weights.sum() > 0:
                related = (vectors(candidate_ids) @ likely.T) @ weights / weights.sum()
            features = item.features.copy()
            nil = item.nil.copy()
            features[:, COHERENCE] = np.log1p(same)
            features[:, COHERENCE + 1] = related
            features[:, COHERENCE + 2] = containing
            mark_pass(features, nil)
            output[index] = dataclasses.replace(item, features=features, nil=nil)
    return output


def _contains(longer: Sequence[str], shorter: Sequence[str]) -> bool:
    """True when the words `shorter` appear in order, contiguously, in `longer`."""
    size = len(shorter)
    return any(list(longer[start: start + size]) == list(shorter) for start in range(len(longer) - size + 1))
