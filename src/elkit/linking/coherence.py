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
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from elkit.kb.normalize import AliasNormalizer
from elkit.linking.coreference import containing_mentions
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
                  vectors: EntityVectors | None, work: Counter[str] | None = None) -> list[LinkInput]:
    """Copies of `inputs` with their coherence features filled from first-pass `probabilities`.

    Mentions are grouped by document (and, while training, by block of documents). The work is linear in the
    number of mentions and candidates of a document: the probability each entity gets from the whole document is
    summed once, and a mention's own text group is subtracted from it; the related-entity vector is a weighted
    sum, minus the mention's own group; longer mentions are found through an index of word runs.

    Args:
        inputs: The scored mentions (each with candidates).
        probabilities: Their first-pass probabilities (candidates, then NIL).
        normalizer: Decides which mentions have the same text.
        vectors: Entity vectors for ``coherence_related`` (None: the feature stays zero).
        work: When given, counts the (mention, candidate) entries read (``entries``), to check the cost.
    """
    output = list(inputs)
    groups: dict[tuple[int, str], list[int]] = {}
    for index, item in enumerate(inputs):
        groups.setdefault((item.mention.doc, item.mention.block_key), []).append(index)
    work = work if work is not None else Counter()
    for indices in groups.values():
        texts = [normalizer(inputs[index].mention.span.text) for index in indices]
        entity_maps = [dict(zip((candidate.entity_id for candidate in inputs[index].candidates),
                                (float(value) for value in probabilities[index][:-1]), strict=True))
                       for index in indices]
        work["entries"] += sum(len(found) for found in entity_maps)
        total: dict[str, float] = {}
        by_text: dict[str, dict[str, float]] = {}
        for text, found in zip(texts, entity_maps, strict=True):
            group_total = by_text.setdefault(text, {})
            for entity, value in found.items():
                total[entity] = total.get(entity, 0.0) + value
                group_total[entity] = group_total.get(entity, 0.0) + value
        tops = [max(found.items(), key=lambda pair: pair[1]) if found else ("", 0.0) for found in entity_maps]
        weights = np.asarray([weight for _, weight in tops], dtype=np.float32)
        related_sum: np.ndarray | None = None
        text_sums: dict[str, np.ndarray] = {}
        text_weights: dict[str, float] = {}
        if vectors is not None:
            likely = vectors([entity for entity, _ in tops])  # [n, D]
            related_sum = weights @ likely
            for local, text in enumerate(texts):
                text_sums[text] = text_sums.get(text, 0.0) + weights[local] * likely[local]
                text_weights[text] = text_weights.get(text, 0.0) + float(weights[local])
        longer = containing_mentions([inputs[index].mention for index in indices], normalizer, names_only=False)
        for local, index in enumerate(indices):
            item = inputs[index]
            if not item.candidates:
                continue
            candidate_ids = [candidate.entity_id for candidate in item.candidates]
            own = by_text[texts[local]]
            work["entries"] += len(candidate_ids)
            same = np.asarray([max(total.get(entity, 0.0) - own.get(entity, 0.0), 0.0) for entity in candidate_ids],
                              dtype=np.float32)
            containing = np.zeros(len(candidate_ids), dtype=np.float32)
            for other in longer[local]:
                if texts[other] == texts[local]:
                    continue
                work["entries"] += len(candidate_ids)
                found = entity_maps[other]
                containing = np.maximum(containing, [found.get(entity, 0.0) for entity in candidate_ids])
            related = np.zeros(len(candidate_ids), dtype=np.float32)
            other_weight = float(weights.sum()) - text_weights.get(texts[local], 0.0)
            if vectors is not None and related_sum is not None and other_weight > 1e-6:
                context = (related_sum - text_sums[texts[local]]) / other_weight
                related = vectors(candidate_ids) @ context
            features = item.features.copy()
            nil = item.nil.copy()
            features[:, COHERENCE] = np.log1p(same)
            features[:, COHERENCE + 1] = related
            features[:, COHERENCE + 2] = containing
            mark_pass(features, nil)
            output[index] = dataclasses.replace(item, features=features, nil=nil)
    return output
