"""Name patterns: evidence for entities never linked in training, from entities whose names share a pattern."""

import pytest

from elkit.kb import InMemoryKB
from elkit.linking import EntityLinker, strip_links
from elkit.linking.features import FEATURES
from elkit.linking.tables import PATTERN_PREFIX, name_pattern

from .support import make_docs, write_vectors

COUNTRIES = ["Peru", "Brazil", "Chile", "Ecuador"]


def football_kb() -> InMemoryKB:
    kb = InMemoryKB()
    for country in COUNTRIES:
        kb.add_entity(country, name=country, types=("LOC",), popularity=100.0)
        kb.add_entity(f"{country}_team", name=f"{country} national football team", types=("ORG",), popularity=10.0)
        kb.add_alias(country, [country, f"{country}_team"], [0.8, 0.2])
    return kb


TRAIN = [
    ("Peru beat Brazil in the football match at the stadium .", [(0, 1, "ENTITY", "Peru_team"),
                                                                 (2, 3, "ENTITY", "Brazil_team")]),
    ("Brazil scored twice in the football match and Peru lost .", [(0, 1, "ENTITY", "Brazil_team"),
                                                                   (8, 9, "ENTITY", "Peru_team")]),
    ("Peru exports copper and fish to many markets .", [(0, 1, "ENTITY", "Peru")]),
    ("The government of Brazil raised taxes on coffee exports .", [(3, 4, "ENTITY", "Brazil")]),
]


def test_name_pattern():
    assert name_pattern("Chile national football team", "CHILE") == PATTERN_PREFIX + "{} national football team"
    assert name_pattern("Havre, Montana", "Havre") == PATTERN_PREFIX + "{}, montana"
    assert name_pattern("Chile", " chile ") == PATTERN_PREFIX + "{}"
    assert name_pattern("Santiago", "Chile") == ""
    assert name_pattern("Chile", "") == ""


@pytest.fixture(scope="module")
def linker(tmp_path_factory):
    vectors = str(write_vectors(tmp_path_factory.mktemp("vectors")))
    linker = EntityLinker("linker", vectors=vectors)
    docs = make_docs(TRAIN)
    linker.initialize(lambda: docs, kb=football_kb())
    return linker


def test_patterns_are_learned_from_gold_links(linker):
    contexts = linker.entity_contexts
    assert contexts.count(PATTERN_PREFIX + "{} national football team") == 4
    assert contexts.count(PATTERN_PREFIX + "{}") == 2
    assert contexts.count("Chile_team") == 0  # the entity itself was never linked


def test_unseen_entity_gets_pattern_evidence(linker):
    docs = make_docs([("Chile beat Ecuador in the football match .", [(0, 1, "ENTITY", "Chile_team")])])
    inputs = linker.link_inputs(strip_links(docs))
    item = inputs[0]
    by_entity = {candidate.entity_id: row for row, candidate in enumerate(item.candidates)}
    local = FEATURES.index("pattern_local")
    count = FEATURES.index("pattern_log_count")
    team, country = item.features[by_entity["Chile_team"]], item.features[by_entity["Chile"]]
    assert team[count] > 0 and country[count] > 0
    assert team[local] > country[local]  # a football context is closer to where "{} national football team" was
    assert item.features[:, FEATURES.index("has_learned")].max() == 0  # no entity evidence: only the patterns
