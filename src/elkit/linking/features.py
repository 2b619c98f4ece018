"""The linker's features stage: numbers for each (mention, candidate) pair, and for each mention's NIL option.

`featurize` gathers what a batch of mentions needs (entity data, training counts, learned entity contexts, the
mention memory, context vectors) and `candidate_features` computes one mention's features from it. The result is
one `LinkInput` per mention, the scorer's input. The coherence columns stay zero here; the coherence stage fills
them for the second pass.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

from elkit.candidates import MentionTable
from elkit.doc import NIL, Candidate, Doc
from elkit.kb.base import KnowledgeBase
from elkit.kb.normalize import AliasNormalizer
from elkit.linking.context import ContextVectors
from elkit.linking.coreference import CoreferenceEvidence
from elkit.linking.mentions import Mention
from elkit.linking.tables import EntityContexts, MentionMemory, name_pattern, pattern_evidence

__all__ = [
    "COHERENCE",
    "FEATURES",
    "FEATURE_GROUPS",
    "NIL_FEATURES",
    "EntityInfo",
    "EntityInfos",
    "LinkInput",
    "candidate_features",
    "entity_name",
    "feature_masks",
    "featurize",
    "is_acronym",
    "mark_pass",
    "type_pair",
]

FEATURES: tuple[str, ...] = (
    "prior", "log_prior", "prior_top",
    "table_exact", "table_normal", "table_seen", "table_log_count",
    "log_popularity", "popularity_share", "popularity_top",
    "name_exact", "name_normal", "name_ratio", "name_token_set", "acronym", "alias_as_written",
    "source_exact", "source_normalized", "source_fuzzy", "source_dense", "source_table",
    "context_text_local", "context_text_document", "context_learned_local", "context_learned_document",
    "has_learned", "learned_log_count", "log_candidates",
    "memory_local", "memory_document", "memory_nearest_local", "memory_nearest_document",
    "coherence_same", "coherence_related", "coherence_containing", "coherence_pass",
    "coreference_strength", "coreference_found", "source_coreference",
    "pattern_local", "pattern_document", "pattern_log_count",
)
"""Candidate features, in column order. The four ``coherence_*`` ones are filled by the second (coherence) pass."""

COHERENCE = FEATURES.index("coherence_same")

NIL_FEATURES: tuple[str, ...] = (
    "max_prior", "table_seen", "nil_rate_exact", "nil_rate_normal", "max_name_ratio", "max_table",
    "log_candidates", "lowercase", "log_length", "memory_nil_local", "memory_nil_document", "coherence_pass",
)
"""Mention-level features of the NIL option, in column order."""

FEATURE_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "prior": (("prior", "log_prior", "prior_top"), ("max_prior",)),
    "table": (("table_exact", "table_normal", "table_seen", "table_log_count", "source_table"),
              ("table_seen", "nil_rate_exact", "nil_rate_normal", "max_table")),
    "popularity": (("log_popularity", "popularity_share", "popularity_top"), ()),
    "names": (("name_exact", "name_normal", "name_ratio", "name_token_set", "acronym", "alias_as_written"),
              ("max_name_ratio",)),
    "sources": (("source_exact", "source_normalized", "source_fuzzy", "source_dense", "log_candidates"),
                ("log_candidates",)),
    "context": (("context_text_local", "context_text_document"), ()),
    "learned": (("context_learned_local", "context_learned_document", "has_learned", "learned_log_count"), ()),
    "memory": (("memory_local", "memory_document", "memory_nearest_local", "memory_nearest_document"),
               ("memory_nil_local", "memory_nil_document")),
    "coreference": (("coreference_strength", "coreference_found", "source_coreference"), ()),
    "patterns": (("pattern_local", "pattern_document", "pattern_log_count"), ()),
    "types": ((), ()),
}
"""Feature groups that ``features_off`` can switch off: group → (candidate columns, NIL columns). ``types`` is the
scorer's learned (span label, entity type) weights, not a column."""

_COLUMN = {name: column for column, name in enumerate(FEATURES)}
_INITIAL = re.compile(r"[A-Za-z0-9]")


class EntityInfo:
    """What the features need of an entity, looked up once per entity."""

    __slots__ = ("name", "name_key", "popularity", "text_vector", "type")

    def __init__(self, name: str, name_key: str, entity_type: str, popularity: float, text_vector: np.ndarray
                 ) -> None:
        self.name = name
        self.name_key = name_key
        self.type = entity_type
        self.popularity = popularity
        self.text_vector = text_vector


def entity_name(kb: KnowledgeBase, entity_id: str) -> str:
    """The entity's name in `kb` (its id with spaces for underscores when it has none)."""
    return kb.get_entity(entity_id).name or entity_id.replace("_", " ")


class EntityInfos:
    """Each entity's `EntityInfo`, read from the KB on first use and kept.

    Args:
        kb: The knowledge base.
        vectors: Gives the entity's text vector (its name and description); None: empty vectors.
        normalizer: Gives the name's normalised key.
    """

    def __init__(self, kb: KnowledgeBase, vectors: ContextVectors | None, normalizer: AliasNormalizer) -> None:
        self.kb = kb
        self.vectors = vectors
        self.normalizer = normalizer
        self._found: dict[str, EntityInfo] = {}

    def __call__(self, entity_id: str) -> EntityInfo:
        """The entity's info."""
        info = self._found.get(entity_id)
        if info is None:
            entity = self.kb.get_entity(entity_id)
            name = entity.name or entity_id.replace("_", " ")
            text_vector = (self.vectors.text_vector(entity.text() if entity.name else name) if self.vectors
                           else np.zeros(0, dtype=np.float32))
            info = EntityInfo(name, self.normalizer(name), entity.types[0] if entity.types else "UNK",
                              float(entity.popularity), text_vector)
            self._found[entity_id] = info
        return info


@dataclass(frozen=True)
class LinkInput:
    """A mention with its candidates and their features: what the scorer reads.

    Attributes:
        mention: The mention.
        candidates: Its candidates, in generation order.
        features: [C, len(FEATURES)] candidate features.
        nil: [len(NIL_FEATURES)] features of the NIL option.
        type_pairs: [C] index of each candidate's (label, entity type) pair.
        label: Index of the span's label (0: unknown).
        contexts: [2, D] local and document context vectors (D = 0 without context).
        text_vectors: [C, D] entity text vectors.
        learned: [C, D] learned entity context vectors.
        gold: While training, the candidate rows that are right ([C], the NIL slot, for NIL).
    """

    mention: Mention
    candidates: tuple[Candidate, ...]
    features: np.ndarray
    nil: np.ndarray
    type_pairs: np.ndarray
    label: int
    contexts: np.ndarray
    text_vectors: np.ndarray
    learned: np.ndarray
    gold: tuple[int, ...] = ()


def is_acronym(mention: str, name: str) -> bool:
    """True for a mention like "UN" or "U.N." against "United Nations" (initials of the name's words)."""
    letters = mention.replace(".", "")
    if not 2 <= len(letters) <= 8 or not letters.isupper() or not letters.isalpha():
        return False
    words = [word for word in re.split(r"[\s\-_]+", name) if word and word[0].isupper()]
    return "".join(word[0] for word in words) == letters


def _share(counts: Counter[str], entity: str) -> float:
    total = sum(counts.values())
    return counts.get(entity, 0) / total if total else 0.0


def candidate_features(
    text: str,
    mention_key: str,
    candidates: Sequence[Candidate],
    infos: Sequence[EntityInfo],
    table: tuple[Counter[str], Counter[str]],
    contexts: np.ndarray,
    learned: tuple[np.ndarray, np.ndarray],
    incl_prior: bool,
    incl_context: bool,
    memory: tuple[dict[str, float], dict[str, float], str, str] = ({}, {}, "", ""),
    coreference: CoreferenceEvidence = ({}, False),
    patterns: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Features of one mention's candidates and of its NIL option.

    Args:
        text: The mention as written.
        mention_key: Its normalised key.
        candidates: Its candidates.
        infos: Each candidate's `EntityInfo`.
        table: (exact, normalised) training counts for the mention, its own document left out.
        contexts: [2, D] local and document context vectors.
        learned: ([C, D] learned entity context vectors (zero rows for entities without one), [C] the number of
            training mentions each is made of), the mention's own document left out.
        incl_prior: Use the KB prior and the training counts.
        incl_context: Use the context vectors.
        memory: What `MentionMemory.lookup` found for the mention (local and document neighbour shares, the
            nearest occurrences' entities), its own document left out.
        coreference: What the longer mentions of the document that contain this one say (`coreference_evidence`).
        patterns: ([C, 2] centred context cosines, [C] training counts) of each candidate's name pattern
            (`pattern_evidence`; None: no pattern features).

    Returns:
        ([C, len(FEATURES)] candidate features, [len(NIL_FEATURES)] NIL features).
    """
    count = len(candidates)
    features = np.zeros((count, len(FEATURES)), dtype=np.float32)
    exact_counts, normal_counts = table if incl_prior else (Counter(), Counter())
    exact_total = sum(exact_counts.values())
    normal_total = sum(normal_counts.values())
    popularity = np.asarray([info.popularity for info in infos], dtype=np.float64)
    priors = np.asarray([candidate.prior for candidate in candidates], dtype=np.float64)
    max_ratio = 0.0
    for row, (candidate, info) in enumerate(zip(candidates, infos, strict=True)):
        values = features[row]
        if incl_prior:
            values[0] = candidate.prior
            values[1] = math.log(candidate.prior + 1e-4) / 10.0
            values[2] = float(candidate.prior >= priors.max() and candidate.prior > 0)
            values[3] = _share(exact_counts, candidate.entity_id)
            values[4] = _share(normal_counts, candidate.entity_id)
            values[5] = float(exact_total + normal_total > 0)
            values[6] = math.log1p(normal_total) / 5.0
        values[7] = math.log1p(info.popularity) / 10.0
        values[8] = info.popularity / popularity.sum() if popularity.sum() > 0 else 0.0
        values[9] = float(info.popularity >= popularity.max() and info.popularity > 0)
        values[10] = float(text == info.name)
        values[11] = float(mention_key == info.name_key and bool(mention_key))
        values[12] = fuzz.ratio(mention_key, info.name_key) / 100.0
        values[13] = fuzz.token_set_ratio(mention_key, info.name_key) / 100.0
        values[14] = float(is_acronym(text, info.name))
        values[15] = float(candidate.alias == text)
        scores = candidate.scores
        values[16] = scores.get("exact", 0.0)
        values[17] = scores.get("normalized", 0.0)
        values[18] = scores.get("fuzzy", 0.0)
        values[19] = scores.get("dense", 0.0)
        values[20] = scores.get("table", 0.0)
        max_ratio = max(max_ratio, float(values[12]))
    if incl_context and contexts.size and count:
        text_vectors = np.stack([info.text_vector for info in infos])  # [C, D]
        features[:, 21:23] = text_vectors @ contexts.T
        learned_vectors, learned_counts = learned
        features[:, 23:25] = learned_vectors @ contexts.T
        features[:, 25] = (np.abs(learned_vectors).sum(axis=1) > 0).astype(np.float32)
        features[:, 26] = np.log1p(learned_counts) / 5.0
        if patterns is not None:
            similarities, pattern_counts = patterns
            start = _COLUMN["pattern_local"]
            features[:, start:start + 2] = similarities
            features[:, start + 2] = np.log1p(pattern_counts) / 5.0
    features[:, 27] = math.log(count) / 4.0 if count else 0.0
    local_shares, document_shares, nearest_local, nearest_document = memory
    for row, candidate in enumerate(candidates):
        entity = candidate.entity_id
        features[row, 28] = local_shares.get(entity, 0.0)
        features[row, 29] = document_shares.get(entity, 0.0)
        features[row, 30] = float(entity == nearest_local)
        features[row, 31] = float(entity == nearest_document)
    strength, found = coreference
    if found:
        for row, candidate in enumerate(candidates):
            features[row, _COLUMN["coreference_strength"]] = strength.get(candidate.entity_id, 0.0)
            features[row, _COLUMN["source_coreference"]] = float("coreference" in candidate.scores)
        features[:, _COLUMN["coreference_found"]] = 1.0
    nil = np.zeros(len(NIL_FEATURES), dtype=np.float32)
    nil[0] = priors.max() if count and incl_prior else 0.0
    nil[1] = float(exact_total + normal_total > 0)
    nil[2] = exact_counts.get(NIL, 0) / exact_total if exact_total else 0.0
    nil[3] = normal_counts.get(NIL, 0) / normal_total if normal_total else 0.0
    nil[4] = max_ratio
    nil[5] = float(features[:, 3:5].max()) if count else 0.0
    nil[6] = math.log(count) / 4.0 if count else 0.0
    nil[7] = float(text.islower())
    nil[8] = math.log(len(text.split()) + 1)
    nil[9] = local_shares.get(NIL, 0.0)
    nil[10] = document_shares.get(NIL, 0.0)
    return features, nil


def feature_masks(off: Sequence[str]) -> tuple[np.ndarray, np.ndarray, bool]:
    """([len(FEATURES)] candidate mask, [len(NIL_FEATURES)] NIL mask, use the type weights) for groups `off`."""
    candidate = np.ones(len(FEATURES), dtype=np.float32)
    nil = np.ones(len(NIL_FEATURES), dtype=np.float32)
    for group in off:
        columns, nil_columns = FEATURE_GROUPS[group]
        candidate[[_COLUMN[name] for name in columns]] = 0.0
        nil[[NIL_FEATURES.index(name) for name in nil_columns]] = 0.0
    return candidate, nil, "types" not in off


def mark_pass(features: np.ndarray, nil: np.ndarray) -> None:
    """Flag features as belonging to the second (coherence) pass."""
    features[:, _COLUMN["coherence_pass"]] = 1.0
    nil[NIL_FEATURES.index("coherence_pass")] = 1.0


def type_pair(label: int, entity_type: str, types: Sequence[str]) -> int:
    """The index of the (span label, entity type) pair in the scorer's pair table (unknown types: "UNK")."""
    try:
        type_index = types.index(entity_type)
    except ValueError:
        type_index = 1
    return 1 + label * len(types) + type_index


def learned_contexts(entity_ids: Sequence[str], entity_contexts: EntityContexts, dim: int, left_out: str | None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """([C, dim] learned context vectors, [C] their mention counts), the block `left_out` left out."""
    output = np.zeros((len(entity_ids), dim), dtype=np.float32)
    counts = np.zeros(len(entity_ids), dtype=np.float32)
    if dim and len(entity_contexts):
        for row, entity in enumerate(entity_ids):
            vector = entity_contexts.vector(entity, left_out)
            if vector is not None:
                output[row] = vector
                counts[row] = entity_contexts.count(entity, left_out)
    return output, counts


def featurize(
    docs: Sequence[Doc],
    mentions: Sequence[Mention],
    candidates: Sequence[Sequence[Candidate]],
    *,
    infos: EntityInfos,
    vectors: ContextVectors | None,
    table: MentionTable,
    entity_contexts: EntityContexts,
    memory: MentionMemory,
    labels: Sequence[str],
    types: Sequence[str],
    normalizer: AliasNormalizer,
    n_sents: int,
    incl_prior: bool,
    incl_context: bool,
    coreference: Sequence[CoreferenceEvidence] | None = None,
) -> list[LinkInput]:
    """The scorer's input for each mention of a batch (first pass: the coherence columns are zero).

    Args:
        docs: The batch's documents.
        mentions: Their mentions (`find_mentions`).
        candidates: Each mention's candidates.
        infos: Entity data.
        vectors: Static word vectors for contexts (None: no context features).
        table: Mention → entity training counts.
        entity_contexts: Learned entity context vectors.
        memory: The mention memory.
        labels: The span labels the scorer knows.
        types: The entity types the scorer knows.
        normalizer: Gives a mention's normalised key.
        n_sents: Sentences either side in the local context.
        incl_prior: Use priors and training counts.
        incl_context: Use context vectors.
        coreference: Each mention's coreference evidence (None: none).
    """
    dim = vectors.dim if vectors and incl_context else 0
    contexts: dict[int, np.ndarray] = {}
    if dim:
        by_doc: dict[int, list[Mention]] = {}
        for mention in mentions:
            by_doc.setdefault(mention.doc, []).append(mention)
        for number, found in by_doc.items():
            contexts[number] = vectors.mention_contexts(  # type: ignore[union-attr]
                docs[number], [mention.span for mention in found], n_sents)
    offsets: Counter[int] = Counter()
    inputs = []
    for number, (mention, found) in enumerate(zip(mentions, candidates, strict=True)):
        found = tuple(found)
        context = contexts[mention.doc][offsets[mention.doc]] if dim else np.zeros((2, 0), dtype=np.float32)
        offsets[mention.doc] += 1
        left_out = mention.block_key
        counts = table.lookup(mention.text, left_out)
        entity_infos = [infos(candidate.entity_id) for candidate in found]
        learned = (learned_contexts([candidate.entity_id for candidate in found], entity_contexts, vectors.dim,
                                    left_out or None) if dim and vectors
                   else (np.zeros((len(found), 0), dtype=np.float32), np.zeros(len(found))))
        patterns = (pattern_evidence([name_pattern(info.name, mention.text) for info in entity_infos],
                                     entity_contexts, context, left_out or None) if dim else None)
        normalized = normalizer(mention.text)
        neighbours = (memory.lookup(normalized, context, left_out or None) if dim and len(memory)
                      else ({}, {}, "", ""))
        features, nil = candidate_features(mention.text, normalized, found, entity_infos, counts, context, learned,
                                           incl_prior, bool(dim), neighbours,
                                           coreference[number] if coreference is not None else ({}, False),
                                           patterns)
        label = labels.index(mention.span.label) if mention.span.label in labels else 0
        text_vectors = (np.stack([info.text_vector for info in entity_infos]) if entity_infos and dim
                        else np.zeros((len(found), dim), dtype=np.float32))
        inputs.append(LinkInput(
            mention=mention, candidates=found, features=features, nil=nil,
            type_pairs=np.asarray([type_pair(label, info.type, types) for info in entity_infos], dtype=np.int64),
            label=label, contexts=context, text_vectors=text_vectors, learned=learned[0],
        ))
    return inputs
