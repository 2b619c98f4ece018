"""The coherence stage (linear in the mentions of a document) and document-level name coreference."""

from collections import Counter

import numpy as np
import pytest

from elkit.doc import Candidate
from elkit.kb.normalize import AliasNormalizer
from elkit.linking.coherence import add_coherence
from elkit.linking.coreference import containing_mentions, coreference_evidence
from elkit.linking.features import COHERENCE, FEATURES, NIL_FEATURES, LinkInput
from elkit.linking.mentions import Mention
from elkit.tokenize import Tokenizer

NORMALIZER = AliasNormalizer()


def mentions_of(names: list[str]) -> list[Mention]:
    """One document naming each of `names` in turn; one mention per name."""
    doc = Tokenizer()(" , ".join(names))
    mentions, position = [], 0
    for index, name in enumerate(names):
        size = len(name.split())
        span = doc.span(position, position + size, "ENT")
        mentions.append(Mention(0, index, span, name))
        position += size + 1
    return mentions


def inputs_for(mentions: list[Mention], candidates: list[list[str]]) -> list[LinkInput]:
    return [
        LinkInput(
            mention=mention,
            candidates=tuple(Candidate(entity) for entity in found),
            features=np.zeros((len(found), len(FEATURES)), dtype=np.float32),
            nil=np.zeros(len(NIL_FEATURES), dtype=np.float32),
            type_pairs=np.zeros(len(found), dtype=np.int64),
            label=0,
            contexts=np.zeros((2, 0), dtype=np.float32),
            text_vectors=np.zeros((len(found), 0), dtype=np.float32),
            learned=np.zeros((len(found), 0), dtype=np.float32),
        )
        for mention, found in zip(mentions, candidates, strict=True)
    ]


def entity_vectors(entity_ids):
    rows = np.zeros((len(entity_ids), 4), dtype=np.float32)
    for row, entity in enumerate(entity_ids):
        if entity:
            rows[row] = np.random.default_rng(sum(map(ord, entity))).normal(size=4)
    return rows


def reference_coherence(inputs, probabilities):
    """The quadratic definition: every other mention (of another text) against every mention."""
    texts = [NORMALIZER(item.mention.text) for item in inputs]
    maps = [
        dict(zip((c.entity_id for c in item.candidates), found[:-1], strict=True))
        for item, found in zip(inputs, probabilities, strict=True)
    ]
    tops = [max(found.items(), key=lambda pair: pair[1]) for found in maps]
    output = []
    for index, item in enumerate(inputs):
        ids = [c.entity_id for c in item.candidates]
        others = [other for other in range(len(inputs)) if texts[other] != texts[index]]
        same = [sum(maps[other].get(entity, 0.0) for other in others) for entity in ids]
        words = texts[index].split()
        containing = [
            max(
                [
                    maps[other].get(entity, 0.0)
                    for other in others
                    if len(texts[other].split()) > len(words)
                    and any(
                        texts[other].split()[start : start + len(words)] == words
                        for start in range(len(texts[other].split()))
                    )
                ]
                or [0.0]
            )
            for entity in ids
        ]
        weights = np.asarray([tops[other][1] for other in others])
        likely = entity_vectors([tops[other][0] for other in others])
        related = entity_vectors(ids) @ (weights @ likely) / weights.sum()
        output.append((np.log1p(same), related, containing))
    return output


def test_coherence_matches_the_quadratic_definition():
    names = ["Bill Clinton", "Clinton", "Washington", "Clinton", "George Washington", "Hillary Clinton"]
    candidates = [["Bill"], ["Bill", "Hillary"], ["DC", "George"], ["Bill", "Hillary"], ["George"], ["Hillary"]]
    inputs = inputs_for(mentions_of(names), candidates)
    rng = np.random.default_rng(0)
    probabilities = [rng.dirichlet(np.ones(len(found) + 1)) for found in candidates]
    found = add_coherence(inputs, probabilities, NORMALIZER, entity_vectors)
    for item, (same, related, containing) in zip(found, reference_coherence(inputs, probabilities), strict=True):
        np.testing.assert_allclose(item.features[:, COHERENCE], same, rtol=1e-5)
        np.testing.assert_allclose(item.features[:, COHERENCE + 1], related, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(item.features[:, COHERENCE + 2], containing, rtol=1e-5)
        assert item.features[:, COHERENCE + 3].all()


@pytest.mark.parametrize("count", [250, 500])
def test_coherence_work_is_linear_in_the_mentions(count):
    names = [f"Person {index % 100} Smith" if index % 3 else f"Smith {index % 7}" for index in range(count)]
    candidates = [[f"E{(index * 7 + offset) % 50}" for offset in range(5)] for index in range(count)]
    inputs = inputs_for(mentions_of(names), candidates)
    probabilities = [np.full(6, 1 / 6) for _ in range(count)]
    work: Counter[str] = Counter()
    add_coherence(inputs, probabilities, NORMALIZER, entity_vectors, work=work)
    # every mention's 5 candidates read a bounded number of times: at most 3 passes, never once per other mention
    assert work["entries"] <= 3 * 5 * count


def test_short_names_are_read_through_longer_ones():
    mentions = mentions_of(["John Smith", "Smith", "smith", "Smith Barney", "Adam"])
    assert containing_mentions(mentions, NORMALIZER) == [[], [0, 3], [], [], []]
    assert containing_mentions(mentions, NORMALIZER, names_only=False)[2] == [0, 3]
    candidates = [
        (Candidate("John_Smith", prior=0.9), Candidate("John_Smith_(explorer)", prior=0.1)),
        (Candidate("Smith_(surname)", prior=0.5),),
        (),
        (Candidate("Smith_Barney", prior=1.0),),
        (),
    ]
    found, evidence = coreference_evidence(mentions, candidates, NORMALIZER)
    assert [candidate.entity_id for candidate in found[1]] == [
        "Smith_(surname)",
        "Smith_Barney",
        "John_Smith",
        "John_Smith_(explorer)",
    ]
    assert found[1][2].scores == {"coreference": 0.9} and found[1][2].prior == 0.0
    assert evidence[1] == ({"John_Smith": 0.9, "John_Smith_(explorer)": 0.1, "Smith_Barney": 1.0}, True)
    assert evidence[0] == ({}, False) and found[0] == candidates[0]
    assert found[2] == () and evidence[2] == ({}, False)


def test_coreference_uses_training_shares_of_the_longer_mention():
    mentions = mentions_of(["Manchester United", "United"])
    candidates = [
        (Candidate("Manchester_United_F.C.", prior=0.4), Candidate("Manchester_United_(band)", prior=0.6)),
        (),
    ]
    shares = {"Manchester United": {"Manchester_United_F.C.": 0.95}}
    found, evidence = coreference_evidence(
        mentions, candidates, NORMALIZER, lambda mention: shares.get(mention.text, {})
    )
    assert found[1][0].entity_id == "Manchester_United_F.C."
    assert evidence[1][0] == {"Manchester_United_F.C.": 0.95, "Manchester_United_(band)": 0.6}
