"""Document-level name coreference: a short mention read through a longer one of the same document.

News and papers name an entity in full once and shortly afterwards ("John Smith ... Smith", "Manchester United
... United"). A short mention whose words appear, in order, inside a longer mention of the same document gets
that mention's candidates too (its own candidate list may lack the entity: "Smith" alone names thousands), and a
feature saying how strongly the longer mention points at each candidate. Both exist for entities never seen in
training. The lookup is linear in the number of mentions: each mention's word runs are indexed once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from elkit.doc import Candidate
from elkit.kb.normalize import AliasNormalizer
from elkit.linking.mentions import Mention

__all__ = ["MAX_WORDS", "CoreferenceEvidence", "containing_mentions", "coreference_evidence"]

MAX_WORDS = 8
"""Longer mentions are indexed by their word runs up to this many words (longer names are rare)."""

CoreferenceEvidence = tuple[dict[str, float], bool]
"""(entity id → the strongest prior a containing mention gives it, whether the mention has a containing one)."""


def containing_mentions(mentions: Sequence[Mention], normalizer: AliasNormalizer, names_only: bool = True
                        ) -> list[list[int]]:
    """For each mention, the indices of the longer mentions of its document whose words contain its words.

    With `names_only`, only mentions written with a capital letter are read through longer ones (common nouns
    such as "the bank" are not names).
    """
    words = [tuple(normalizer(mention.text).split()) for mention in mentions]
    runs: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    for index, (mention, found) in enumerate(zip(mentions, words, strict=True)):
        size = min(len(found), MAX_WORDS)
        for length in range(1, size):
            for start in range(0, len(found) - length + 1):
                key = (mention.doc, found[start: start + length])
                indices = runs.setdefault(key, [])
                if not indices or indices[-1] != index:
                    indices.append(index)
    output: list[list[int]] = []
    for mention, found in zip(mentions, words, strict=True):
        if not found or (names_only and not any(character.isupper() for character in mention.text)):
            output.append([])
            continue
        output.append(list(runs.get((mention.doc, found), ())))
    return output


def coreference_evidence(
    mentions: Sequence[Mention],
    candidates: Sequence[Sequence[Candidate]],
    normalizer: AliasNormalizer,
    table_shares: Callable[[Mention], dict[str, float]] | None = None,
) -> tuple[list[tuple[Candidate, ...]], list[CoreferenceEvidence]]:
    """Each mention's candidates with those of its containing mentions added, and its coreference evidence.

    Args:
        mentions: The batch's mentions.
        candidates: Their candidates from the generator set.
        normalizer: Gives the words mentions are compared by.
        table_shares: Gives a mention's entity shares from the training counts (the containing mention's
            p(entity | its text)); None: the KB priors only.

    Returns:
        (the candidates, own ones first, then the added ones with prior 0 and a ``coreference`` score; per mention,
        each entity's strongest prior or training share among its containing mentions and whether it has one).
    """
    containing = containing_mentions(mentions, normalizer)
    output: list[tuple[Candidate, ...]] = []
    evidence: list[CoreferenceEvidence] = []
    shares_of: dict[int, dict[str, float]] = {}
    for index, (own, longer) in enumerate(zip(candidates, containing, strict=True)):
        if not longer:
            output.append(tuple(own))
            evidence.append(({}, False))
            continue
        strength: dict[str, float] = {}
        for other in longer:
            if table_shares is not None and other not in shares_of:
                shares_of[other] = table_shares(mentions[other])
            shares = shares_of.get(other, {})
            for candidate in candidates[other]:
                value = max(candidate.prior, shares.get(candidate.entity_id, 0.0))
                strength[candidate.entity_id] = max(strength.get(candidate.entity_id, 0.0), value)
            for entity, share in shares.items():
                strength[entity] = max(strength.get(entity, 0.0), share)
        present = {candidate.entity_id for candidate in own}
        added = [Candidate(entity, alias=mentions[index].text, prior=0.0, scores={"coreference": strength[entity]})
                 for entity in sorted(strength, key=lambda entity: -strength[entity])
                 if entity not in present and strength[entity] > 0.0 and candidates_known(entity, candidates, longer)]
        output.append((*own, *added))
        evidence.append((strength, True))
    return output, evidence


def candidates_known(entity: str, candidates: Sequence[Sequence[Candidate]], longer: Sequence[int]) -> bool:
    """True when `entity` is a candidate of one of the `longer` mentions (so the KB knows it)."""
    return any(candidate.entity_id == entity for other in longer for candidate in candidates[other])
