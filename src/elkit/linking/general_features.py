"""Evidence for the general linker that every KB and every label set has, so that one scorer transfers.

No feature reads an entity id, a type string or a label string as such. Each (mention, candidate) pair is
described by

- the alias prior (of an alias the mention matches as written or normalised) and the popularity, relative to the
  mention's other candidates and to those that match an alias;
- the candidate generators' own combined score and order (exact before normalised before fuzzy and dense);
- how the mention is written against the entity's name and the alias it was found by (string similarity, the
  MiniLM cosine of the mention and the name, and the dense lookup's cosine to the nearest alias when the KB has
  vectors);
- the mention in its context against the entity's text ("name: description", or the name and its types when the
  KB has no description), as a MiniLM cosine (GLiNKER's L3 evidence);
- the span's label against the entity's types **by meaning**: the cosine of the embedded label text and the
  embedded type texts ("PER" is read as "person"), so "ANIMAL" and "WILDLIFE" give the same answer;
- document coherence: the entity's text against the expected entities of the document's other mentions
  (each mention's candidates weighted by their prior; linear in the number of mentions);
- document coreference: a short mention read through a longer one of the same document ("Smith" after "John
  Smith").

The NIL option has its own mention-level features (the best prior, name and context evidence any candidate has).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz

from elkit.doc import Candidate, Doc
from elkit.kb.base import KnowledgeBase
from elkit.kb.normalize import AliasNormalizer
from elkit.linking.coreference import CoreferenceEvidence
from elkit.linking.features import is_acronym
from elkit.linking.mentions import Mention

if TYPE_CHECKING:
    from elkit.linking.entity_vectors import EntityVectors

__all__ = [
    "GENERAL_FEATURES",
    "GENERAL_NIL_FEATURES",
    "TYPE_WORDS",
    "EmbeddingCache",
    "GeneralInput",
    "entity_name",
    "entity_text",
    "general_inputs",
    "mention_context",
    "type_text",
]

GENERAL_FEATURES: tuple[str, ...] = (
    "prior", "prior_top", "log_prior_ratio",
    "popularity_share", "log_popularity_ratio", "popularity_top", "matched_popularity_share", "matched_popularity_top",
    "union_score", "union_relative", "first_candidate",
    "name_exact", "name_normal", "name_ratio", "name_token_set", "acronym", "fuzzy_only",
    "context_cosine", "context_relative", "context_top",
    "mention_name_cosine", "mention_name_relative", "alias_cosine", "alias_relative",
    "type_cosine", "type_relative",
    "coherence_cosine", "coherence_relative",
    "coreference_strength", "coreference_only",
    "log_candidates",
)
"""Candidate features of the general linker, in column order."""

GENERAL_NIL_FEATURES: tuple[str, ...] = (
    "bias", "max_prior", "max_name_ratio", "any_name_normal", "max_context_cosine", "max_mention_name_cosine",
    "max_alias_cosine", "max_type_cosine", "has_label", "log_candidates", "lowercase", "all_fuzzy", "coreference_found",
)
"""Mention-level features of the NIL option, in column order."""

TYPE_WORDS: dict[str, str] = {
    "PER": "person", "PERSON": "person", "ORG": "organisation", "LOC": "location",
    "GPE": "country, city or state", "MISC": "miscellaneous named entity", "NORP": "nationality or group",
    "FAC": "building or facility", "WORK_OF_ART": "work of art", "UNK": "", "ENTITY": "", "NIL": "",
}
"""Abbreviated type and label names read as words (types not listed are read as written)."""

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_COLUMN = {name: column for column, name in enumerate(GENERAL_FEATURES)}
_NIL_COLUMN = {name: column for column, name in enumerate(GENERAL_NIL_FEATURES)}


def type_text(value: str) -> str:
    """A type or label as words: "PER" → "person", "DiseaseOrSyndrome" → "disease or syndrome"."""
    if value.upper() in TYPE_WORDS:
        return TYPE_WORDS[value.upper()]
    return _CAMEL.sub(" ", value).replace("_", " ").replace("-", " ").strip().lower()


def entity_name(entity_id: str, name: str) -> str:
    """The name a mention is compared with: the entity's name, else its id read as words."""
    return name or entity_id.replace("_", " ")


def entity_text(name: str, description: str, types: Sequence[str]) -> str:
    """The text an entity's context evidence is read from: "name: description", else the name and its types."""
    if description:
        return f"{name}: {description}"
    words = ", ".join(text for text in (type_text(value) for value in types) if text)
    return f"{name} ({words})" if words else name


def mention_context(doc: Doc, start_char: int, end_char: int, width: int, start: int | None = None) -> str:
    """The mention with up to `width` characters of text either side, within its sentence, cut at word boundaries.

    Args:
        doc: The document.
        start_char: The mention's first character.
        end_char: The character after the mention.
        width: Characters either side.
        start: The mention's first token; when given and the document has sentences, the context stays inside
            the mention's sentence (mentions of one sentence then share their context, which is encoded once).
    """
    text = doc.text
    low, high = 0, len(text)
    starts = doc.sentence_starts if start is not None else None
    if starts:
        index = bisect.bisect_right(starts, start) - 1
        first = starts[index]
        last = (starts[index + 1] if index + 1 < len(starts) else len(doc)) - 1
        low, high = doc[first].idx, doc[last].end_char
    left = max(low, start_char - width)
    right = min(high, end_char + width)
    if left > low and not text[left - 1].isspace():  # cut inside a word: start after it
        space = text.find(" ", left, start_char)
        left = space + 1 if space >= 0 else left
    if right < high and not text[right].isspace():
        space = text.rfind(" ", end_char, right)
        right = space if space >= 0 else right
    return " ".join(text[left:right].split())


class EmbeddingCache:
    """Unit vectors of texts from a text encoder, each text encoded once and kept (up to `limit` texts).

    Args:
        encoder: Anything with ``encode(texts) -> [N, D]`` unit rows and ``dim`` (`elkit.encoders.TextEncoder`).
        limit: The most texts kept; the cache is emptied when it is full.
    """

    def __init__(self, encoder: object, limit: int = 200_000) -> None:
        self.encoder = encoder
        self.limit = limit
        self._vectors: dict[str, np.ndarray] = {}
        self.encoded = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), D] unit vectors (a zero row for an empty text)."""
        missing = sorted({text for text in texts if text and text not in self._vectors})
        if missing:
            if len(self._vectors) + len(missing) > self.limit:
                self._vectors.clear()
            vectors = self.encoder.encode(missing)  # type: ignore[attr-defined]
            self.encoded += len(missing)
            self._vectors.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
        dim = int(self.encoder.dim)  # type: ignore[attr-defined]
        zero = np.zeros(dim, dtype=np.float32)
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([self._vectors.get(text, zero) if text else zero for text in texts])


@dataclass(frozen=True)
class GeneralInput:
    """A mention with its candidates and the general linker's features for them.

    Attributes:
        mention: The mention.
        candidates: Its candidates.
        features: [C, len(GENERAL_FEATURES)].
        nil: [len(GENERAL_NIL_FEATURES)].
    """

    mention: Mention
    candidates: tuple[Candidate, ...]
    features: np.ndarray
    nil: np.ndarray


def alias_prior(candidate: Candidate) -> float:
    """The candidate's alias prior when it was found by its alias as written or normalised, else 0.

    A fuzzy or dense match carries the prior of an alias the mention only resembles, which says nothing about
    the mention.
    """
    scores = candidate.scores
    return candidate.prior if scores.get("exact") or scores.get("normalized") or not scores else 0.0


def _relative(values: np.ndarray) -> np.ndarray:
    return values - values.max() if values.size else values


def _string_features(text: str, key: str, candidates: Sequence[Candidate], names: Sequence[str],
                     normalizer: AliasNormalizer, features: np.ndarray) -> None:
    for row, (candidate, name) in enumerate(zip(candidates, names, strict=True)):
        alias = candidate.alias
        name_key, alias_key = normalizer(name), normalizer(alias)
        values = features[row]
        values[_COLUMN["name_exact"]] = float(text in (name, alias))
        values[_COLUMN["name_normal"]] = float(bool(key) and key in (name_key, alias_key))
        values[_COLUMN["name_ratio"]] = max(fuzz.ratio(key, name_key), fuzz.ratio(key, alias_key)) / 100.0
        values[_COLUMN["name_token_set"]] = max(fuzz.token_set_ratio(key, name_key),
                                                fuzz.token_set_ratio(key, alias_key)) / 100.0
        values[_COLUMN["acronym"]] = float(is_acronym(text, name))
        scores = candidate.scores
        values[_COLUMN["fuzzy_only"]] = float(not scores.get("exact") and not scores.get("normalized")
                                              and "coreference" not in scores)


def general_inputs(
    docs: Sequence[Doc],
    mentions: Sequence[Mention],
    candidates: Sequence[Sequence[Candidate]],
    coreference: Sequence[CoreferenceEvidence],
    *,
    kb: KnowledgeBase,
    embed: EmbeddingCache,
    normalizer: AliasNormalizer,
    context_chars: int = 200,
    precomputed: EntityVectors | None = None,
) -> list[GeneralInput]:
    """The general linker's input for each mention of a batch.

    Args:
        docs: The batch's documents.
        mentions: Their mentions.
        candidates: Each mention's candidates.
        coreference: Each mention's coreference evidence (`coreference_evidence`).
        kb: The knowledge base the candidates come from.
        embed: Encodes texts (contexts, names, entity texts, labels and types).
        normalizer: Gives normalised keys for string similarity.
        context_chars: Characters of text either side of a mention in its context.
        precomputed: The KB's entity text and name vectors computed once (`EntityVectors`), read instead of
            encoding the candidates' texts.
    """
    entity_ids = sorted({candidate.entity_id for found in candidates for candidate in found})
    entities = {entity_id: kb.get_entity(entity_id) for entity_id in entity_ids}
    names = {entity_id: entity_name(entity_id, entity.name) for entity_id, entity in entities.items()}
    row_of = {entity_id: row for row, entity_id in enumerate(entity_ids)}
    stored = precomputed.lookup(entity_ids) if precomputed is not None else None
    if stored is not None:
        entity_vectors, name_vectors = stored
    else:
        entity_vectors = embed([entity_text(names[entity_id], entity.description, entity.types)
                                for entity_id, entity in entities.items()])
        name_vectors = embed([names[entity_id] for entity_id in entity_ids])
    type_names = sorted({value for entity in entities.values() for value in entity.types})
    label_names = sorted({mention.span.label for mention in mentions if type_text(mention.span.label)})
    type_vectors = dict(zip(type_names, embed([type_text(value) for value in type_names]), strict=True))
    label_vectors = dict(zip(label_names, embed([type_text(value) for value in label_names]), strict=True))
    contexts = embed([mention_context(docs[mention.doc], mention.span.start_char, mention.span.end_char,
                                      context_chars, mention.span.start) for mention in mentions])
    mention_vectors = embed([mention.text for mention in mentions])
    expected = np.zeros((len(mentions), entity_vectors.shape[1] if len(entity_ids) else contexts.shape[1]),
                        dtype=np.float32)
    for number, found in enumerate(candidates):
        if found:
            weights = np.asarray([alias_prior(candidate) for candidate in found], dtype=np.float32) + 1e-3
            rows = [row_of[candidate.entity_id] for candidate in found]
            expected[number] = (weights / weights.sum()) @ entity_vectors[rows]
    document_sums: dict[int, np.ndarray] = {}
    for number, mention in enumerate(mentions):
        document_sums[mention.doc] = document_sums.get(mention.doc, 0.0) + expected[number]
    inputs = []
    for number, (mention, found) in enumerate(zip(mentions, candidates, strict=True)):
        found = tuple(found)
        count = len(found)
        features = np.zeros((count, len(GENERAL_FEATURES)), dtype=np.float32)
        nil = np.zeros(len(GENERAL_NIL_FEATURES), dtype=np.float32)
        nil[_NIL_COLUMN["bias"]] = 1.0
        nil[_NIL_COLUMN["lowercase"]] = float(mention.text.islower())
        label_vector = label_vectors.get(mention.span.label)
        nil[_NIL_COLUMN["has_label"]] = float(label_vector is not None)
        strength, coreferent = coreference[number] if coreference else ({}, False)
        nil[_NIL_COLUMN["coreference_found"]] = float(coreferent)
        if count:
            ids = [candidate.entity_id for candidate in found]
            rows = [row_of[entity_id] for entity_id in ids]
            key = normalizer(mention.text)
            _string_features(mention.text, key, found, [names[entity_id] for entity_id in ids], normalizer, features)
            priors = np.asarray([alias_prior(candidate) for candidate in found], dtype=np.float64)
            popularity = np.asarray([entities[entity_id].popularity for entity_id in ids], dtype=np.float64)
            features[:, _COLUMN["prior"]] = priors
            features[:, _COLUMN["prior_top"]] = (priors >= priors.max()) & (priors > 0)
            features[:, _COLUMN["log_prior_ratio"]] = (np.log(priors + 1e-3) - math.log(priors.max() + 1e-3)) / 5
            total = popularity.sum()
            features[:, _COLUMN["popularity_share"]] = popularity / total if total > 0 else 0.0
            features[:, _COLUMN["log_popularity_ratio"]] = (np.log1p(popularity) - math.log1p(popularity.max())) / 5
            features[:, _COLUMN["popularity_top"]] = (popularity >= popularity.max()) & (popularity > 0)
            matched = np.asarray([bool(candidate.scores.get("exact") or candidate.scores.get("normalized"))
                                  for candidate in found])
            if matched.any():
                among = np.where(matched, popularity, 0.0)
                features[:, _COLUMN["matched_popularity_share"]] = among / among.sum() if among.sum() > 0 else 0.0
                features[:, _COLUMN["matched_popularity_top"]] = matched & (among >= among.max()) & (among > 0)
            union = np.asarray([candidate.scores.get("union", 0.0) for candidate in found], dtype=np.float32)
            features[:, _COLUMN["union_score"]] = union
            features[:, _COLUMN["union_relative"]] = _relative(union)
            features[0, _COLUMN["first_candidate"]] = 1.0
            context = entity_vectors[rows] @ contexts[number]
            features[:, _COLUMN["context_cosine"]] = context
            features[:, _COLUMN["context_relative"]] = _relative(context)
            features[:, _COLUMN["context_top"]] = context >= context.max()
            surface = name_vectors[rows] @ mention_vectors[number]
            features[:, _COLUMN["mention_name_cosine"]] = surface
            features[:, _COLUMN["mention_name_relative"]] = _relative(surface)
            dense = np.asarray([candidate.scores.get("dense", 0.0) for candidate in found], dtype=np.float32)
            closest = np.maximum(dense, surface)
            features[:, _COLUMN["alias_cosine"]] = closest
            features[:, _COLUMN["alias_relative"]] = _relative(closest)
            nil[_NIL_COLUMN["max_alias_cosine"]] = closest.max()
            if label_vector is not None:
                agreement = np.asarray([max((float(type_vectors[value] @ label_vector)
                                             for value in entities[entity_id].types if value in type_vectors),
                                            default=0.0) for entity_id in ids], dtype=np.float32)
                features[:, _COLUMN["type_cosine"]] = agreement
                features[:, _COLUMN["type_relative"]] = _relative(agreement)
                nil[_NIL_COLUMN["max_type_cosine"]] = agreement.max()
            others = document_sums[mention.doc] - expected[number]
            norm = float(np.linalg.norm(others))
            if norm > 0:
                coherence = entity_vectors[rows] @ (others / norm)
                features[:, _COLUMN["coherence_cosine"]] = coherence
                features[:, _COLUMN["coherence_relative"]] = _relative(coherence)
            for row, candidate in enumerate(found):
                features[row, _COLUMN["coreference_strength"]] = strength.get(candidate.entity_id, 0.0)
                features[row, _COLUMN["coreference_only"]] = float(set(candidate.scores) == {"coreference"})
            features[:, _COLUMN["log_candidates"]] = math.log(count) / 4.0
            nil[_NIL_COLUMN["max_prior"]] = priors.max()
            nil[_NIL_COLUMN["max_name_ratio"]] = features[:, _COLUMN["name_ratio"]].max()
            nil[_NIL_COLUMN["any_name_normal"]] = features[:, _COLUMN["name_normal"]].max()
            nil[_NIL_COLUMN["max_context_cosine"]] = context.max()
            nil[_NIL_COLUMN["max_mention_name_cosine"]] = surface.max()
            nil[_NIL_COLUMN["log_candidates"]] = math.log(count) / 4.0
            nil[_NIL_COLUMN["all_fuzzy"]] = features[:, _COLUMN["fuzzy_only"]].min()
        inputs.append(GeneralInput(mention, found, features, nil))
    return inputs
