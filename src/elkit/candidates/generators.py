"""Candidate generators: each finds KB entities for a mention and tags them with its own score.

=============  ========================================================  =========================
generator      finds                                                      source score
=============  ========================================================  =========================
exact          the alias as written (case-sensitive, spaCy's lookup)      1.0
normalized     the alias's normalised key (case, accents, punctuation)   1.0
fuzzy          the keys most similar through a 3-gram index               string similarity [0, 1]
dense          the entities nearest to the mention's embedding            cosine similarity
union          all of the above, merged per entity, every score kept      a weighted best score
append         one generator's candidates, then another's additions       each source's own
=============  ========================================================  =========================

Each generator is called on one mention (a string or a `Span`) or, through `batch`, on many.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from elkit.doc import Candidate, Span
from elkit.kb.base import KnowledgeBase
from elkit.kb.dense import TextEncoderLike

__all__ = [
    "DEFAULT_WEIGHTS",
    "AppendGenerator",
    "CandidateGenerator",
    "DenseGenerator",
    "ExactGenerator",
    "FuzzyGenerator",
    "NormalizedGenerator",
    "UnionGenerator",
    "mention_text",
]

Mention = str | Span


def mention_text(mention: Mention) -> str:
    """Return the text of a mention given as a string or a span."""
    return mention.text if isinstance(mention, Span) else mention


@runtime_checkable
class CandidateGenerator(Protocol):
    """Finds candidate entities for mentions."""

    name: str

    def __call__(self, mention: Mention) -> list[Candidate]:
        """Return the candidates of one mention, best first."""
        ...

    def batch(self, mentions: Sequence[Mention]) -> list[list[Candidate]]:
        """Return the candidates of each mention."""
        ...


class _PerMention:
    """Batch lookups as a loop over single ones, with repeated texts looked up once."""

    name = ""

    def __init__(self, kb: KnowledgeBase, limit: int | None = None) -> None:
        self.kb = kb
        self.limit = limit

    def __call__(self, mention: Mention) -> list[Candidate]:
        raise NotImplementedError

    def batch(self, mentions: Sequence[Mention]) -> list[list[Candidate]]:
        """Return the candidates of each mention (a text that repeats is looked up once)."""
        found: dict[str, list[Candidate]] = {}
        results = []
        for mention in mentions:
            text = mention_text(mention)
            if text not in found:
                found[text] = self(text)
            results.append(list(found[text]))
        return results


class ExactGenerator(_PerMention):
    """The mention's text as an alias, exactly (spaCy's `get_candidates`).

    Args:
        kb: The knowledge base.
        limit: Keep at most this many candidates (best prior first); None keeps all.
    """

    name = "exact"

    def __call__(self, mention: Mention) -> list[Candidate]:
        """Return the candidates of one mention, best prior first."""
        return self.kb.get_alias_candidates(mention_text(mention))[: self.limit]

    def batch(self, mentions: Sequence[Mention]) -> list[list[Candidate]]:
        """Return the candidates of each mention."""
        return [found[: self.limit] for found in self.kb.get_candidates_batch([mention_text(m) for m in mentions])]


class NormalizedGenerator(_PerMention):
    """The mention's normalised key (see `AliasNormalizer`) against the KB's normalised aliases.

    Args:
        kb: The knowledge base.
        limit: Keep at most this many candidates (best prior first); None keeps all.
    """

    name = "normalized"

    def __call__(self, mention: Mention) -> list[Candidate]:
        """Return the candidates of one mention, best prior first."""
        return self.kb.get_normalized_candidates(mention_text(mention))[: self.limit]


class FuzzyGenerator(_PerMention):
    """Keys that look like the mention, found through the KB's character 3-gram index, never a scan.

    Args:
        kb: The knowledge base.
        limit: How many candidates to return.
        min_score: The lowest string similarity (in [0, 1]) kept.
        budget: The most index postings read per mention (None: the KB's default, which grows with the KB).
    """

    name = "fuzzy"

    def __init__(self, kb: KnowledgeBase, limit: int = 10, min_score: float = 0.5, budget: int | None = None
                 ) -> None:
        super().__init__(kb, limit)
        self.min_score = min_score
        self.budget = budget

    def __call__(self, mention: Mention) -> list[Candidate]:
        """Return the candidates of one mention, most similar first."""
        return self.kb.get_fuzzy_candidates(mention_text(mention), limit=self.limit, min_score=self.min_score,
                                            budget=self.budget)


class DenseGenerator:
    """The entities whose vectors are nearest to the mention's embedding (the KB needs `elkit kb embed`).

    Args:
        kb: The knowledge base, with vectors made by the same encoder.
        encoder: The text encoder (default: all-MiniLM-L6-v2).
        limit: How many candidates to return.
        min_score: The lowest cosine similarity kept.
        batch_size: Mentions per encoder batch.
        device: Where the default encoder runs (a torch device or its name; None: the CPU).
    """

    name = "dense"

    def __init__(
        self,
        kb: KnowledgeBase,
        encoder: TextEncoderLike | None = None,
        limit: int = 10,
        min_score: float = -1.0,
        batch_size: int = 128,
        device: object = None,
    ) -> None:
        self.kb = kb
        self._encoder = encoder
        self.limit = limit
        self.min_score = min_score
        self.batch_size = batch_size
        self.device = device

    @property
    def encoder(self) -> TextEncoderLike:
        """The text encoder, loaded on first use."""
        if self._encoder is None:
            from elkit.encoders import TextEncoder

            self._encoder = TextEncoder(device=self.device or "cpu")
        return self._encoder

    def __call__(self, mention: Mention) -> list[Candidate]:
        """Return the candidates of one mention, nearest first."""
        return self.batch([mention])[0]

    def batch(self, mentions: Sequence[Mention]) -> list[list[Candidate]]:
        """Encode all mentions in batches, then search the index once."""
        if not mentions:
            return []
        texts = [mention_text(mention) for mention in mentions]
        unique = list(dict.fromkeys(texts))
        vectors = self.encoder.encode(unique, batch_size=self.batch_size)
        found = dict(zip(unique, self.kb.get_dense_candidates(vectors, self.limit), strict=True))
        return [
            [candidate for candidate in found[text] if candidate.scores["dense"] >= self.min_score] for text in texts
        ]


DEFAULT_WEIGHTS: Mapping[str, float] = {"exact": 1.0, "normalized": 0.98, "fuzzy": 0.7, "dense": 0.95}
"""How much each source's score counts in the union's ranking (tuned on NCBI-disease dev)."""


class UnionGenerator:
    """Merge several generators: one candidate per entity, every source's score kept in `Candidate.scores`.

    The union ranks candidates by ``max over sources (weight × source score) + prior_weight × prior`` and
    records that number as ``scores["union"]``.

    Args:
        generators: The generators to merge.
        limit: How many candidates to return.
        weights: A weight per source name (`DEFAULT_WEIGHTS` for missing ones, 1.0 for unknown sources).
        prior_weight: How much the alias prior adds to the ranking score.
    """

    name = "union"

    def __init__(
        self,
        generators: Sequence[CandidateGenerator],
        limit: int = 64,
        weights: Mapping[str, float] | None = None,
        prior_weight: float = 0.1,
    ) -> None:
        self.generators = list(generators)
        self.limit = limit
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        self.prior_weight = prior_weight

    def __call__(self, mention: Mention) -> list[Candidate]:
        """Return the merged candidates of one mention, best first."""
        return self.batch([mention])[0]

    def batch(self, mentions: Sequence[Mention]) -> list[list[Candidate]]:
        """Run every generator on the whole batch, then merge per mention."""
        per_generator = [generator.batch(mentions) for generator in self.generators]
        return [self.merge([found[position] for found in per_generator]) for position in range(len(mentions))]

    def merge(self, lists: Sequence[Sequence[Candidate]]) -> list[Candidate]:
        """Merge candidate lists for one mention: per entity, the best prior, the first alias, all scores."""
        merged: dict[str, tuple[str, float, dict[str, float]]] = {}
        for candidates in lists:
            for candidate in candidates:
                alias, prior, scores = merged.get(candidate.entity_id, (candidate.alias, 0.0, {}))
                for source, score in candidate.scores.items():
                    scores[source] = max(score, scores.get(source, score))
                merged[candidate.entity_id] = (alias or candidate.alias, max(prior, candidate.prior), scores)
        ranked = []
        for entity_id, (alias, prior, scores) in merged.items():
            best = max((self.weights.get(source, 1.0) * score for source, score in scores.items()), default=0.0)
            scores["union"] = best + self.prior_weight * prior
            ranked.append(Candidate(entity_id, alias, prior, scores))
        ranked.sort(key=lambda candidate: (-candidate.scores["union"], candidate.entity_id))
        return ranked[: self.limit]


class AppendGenerator:
    """One generator's candidates, then another's: the first's order is kept, the second only adds.

    An entity both find keeps its place and gains the second's scores; the second's other candidates come after,
    in its order. (The linker puts the entities seen in training after the KB's candidates this way.)

    Args:
        first: The generator whose candidates lead.
        then: The generator whose candidates are added; its ``batch`` may take ``left_out`` (see `TableGenerator`).
    """

    name = "append"

    def __init__(self, first: CandidateGenerator, then: CandidateGenerator) -> None:
        self.first = first
        self.then = then

    def __call__(self, mention: Mention) -> list[Candidate]:
        """Return the candidates of one mention."""
        return self.batch([mention])[0]

    def batch(self, mentions: Sequence[Mention], left_out: Sequence[str] | None = None) -> list[list[Candidate]]:
        """Return the candidates of each mention; `left_out` is passed on to the second generator."""
        leading = self.first.batch(mentions)
        added = (self.then.batch(mentions) if left_out is None
                 else self.then.batch(mentions, left_out=left_out))  # type: ignore[call-arg]
        return [self.merge(first, then) for first, then in zip(leading, added, strict=True)]

    @staticmethod
    def merge(first: Sequence[Candidate], then: Sequence[Candidate]) -> list[Candidate]:
        """`first` in its order, each entity also in `then` with both scores; then the rest of `then`."""
        if not then:
            return list(first)
        present = {candidate.entity_id: index for index, candidate in enumerate(first)}
        merged = list(first)
        for candidate in then:
            index = present.get(candidate.entity_id)
            if index is None:
                merged.append(candidate)
            else:
                old = merged[index]
                merged[index] = Candidate.trusted(old.entity_id, old.alias, old.prior,
                                                  {**old.scores, **candidate.scores})
        return merged
