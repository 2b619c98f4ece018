"""The in-memory KB: spaCy's strict write checks, id resolution, and lookups through its compiled index."""

import numpy as np
import pytest

from elkit.errors import KBError
from elkit.kb import InMemoryKB, KnowledgeBase


@pytest.fixture
def kb():
    memory = InMemoryKB()
    memory.add_entity("Q90", "Paris", "capital of France", ["LOC"], 90, other_ids=["enwiki:Paris"])
    memory.add_entity("Q830149", "Paris", "city in Texas", ["LOC"], 10)
    memory.add_entity("Q7259", "Ada Lovelace", "English mathematician", ["PER"], 50)
    memory.add_alias("Paris", ["Q90", "Q830149"], [0.8, 0.15])
    return memory


def test_it_is_a_knowledge_base(kb):
    assert isinstance(kb, KnowledgeBase)
    assert kb.entity_count == len(kb) == 3 and kb.alias_count == 1
    assert list(kb.entity_ids()) == ["Q90", "Q830149", "Q7259"]
    assert list(kb.aliases()) == ["Paris"]


def test_exact_lookup_is_case_sensitive_and_best_prior_first(kb):
    found = kb.get_alias_candidates("Paris")
    assert [(candidate.entity_id, candidate.prior) for candidate in found] == [("Q90", 0.8), ("Q830149", 0.15)]
    assert all(candidate.alias == "Paris" and candidate.scores == {"exact": 1.0} for candidate in found)
    assert kb.get_alias_candidates("paris") == []
    assert kb.get_candidates_batch(["Paris", "nowhere"]) == [found, []]


@pytest.mark.parametrize(
    ("alias", "entity_ids", "priors", "message"),
    [
        ("Lovelace", ["Q7259", "Q90"], [0.5], "2 entities but 1 priors"),
        ("Lovelace", ["Q7259"], [1.5], "must be in \\[0, 1\\]"),
        ("Lovelace", ["Q7259"], [-0.1], "must be in \\[0, 1\\]"),
        ("Lovelace", ["Q7259"], [float("nan")], "must be in \\[0, 1\\]"),
        ("Lovelace", ["Q7259", "Q90"], [0.6, 0.5], "sum to 1.1, more than 1"),
        ("Lovelace", ["Q404"], [0.5], "unknown entity 'Q404'"),
        ("", ["Q7259"], [0.5], "non-empty string"),
        ("   ", ["Q7259"], [0.5], "non-empty string"),
        ("Paris", ["Q7259"], [0.1], "already exists; use append_alias"),
        ("Lovelace", ["Q90", "enwiki:Paris"], [0.1, 0.1], "listed twice"),
    ],
)
def test_add_alias_rejects_what_spacy_rejects(kb, alias, entity_ids, priors, message):
    with pytest.raises(KBError, match=message):
        kb.add_alias(alias, entity_ids, priors)
    # A refused write changes nothing.
    assert kb.alias_count == 1
    assert [candidate.entity_id for candidate in kb.get_alias_candidates("Paris")] == ["Q90", "Q830149"]


def test_duplicate_entity_ids_are_refused(kb):
    with pytest.raises(KBError, match="'Q90' already exists"):
        kb.add_entity("Q90", "Paris again")
    with pytest.raises(KBError, match="'enwiki:Paris' already exists"):
        kb.add_entity("enwiki:Paris")  # an other id is taken too
    with pytest.raises(KBError, match="other id 'Q7259' of 'Q5' already names 'Q7259'"):
        kb.add_entity("Q5", other_ids=["Q7259"])
    assert kb.entity_count == 3 and kb.get_entity("Q90").name == "Paris"


def test_invalid_entity_fields_are_refused(kb):
    with pytest.raises(KBError, match="entity_id must be a non-empty string"):
        kb.add_entity("")
    with pytest.raises(KBError, match="popularity"):
        kb.add_entity("Q5", popularity=-1)
    with pytest.raises(KBError, match="must be a finite number"):
        kb.add_entity("Q5", popularity=float("inf"))
    assert "Q5" not in kb and kb.entity_count == 3


@pytest.mark.parametrize("field_name", ["types", "other_ids"])
def test_a_bare_string_is_not_a_list_of_ids(kb, field_name):
    with pytest.raises(KBError, match=field_name):
        kb.add_entity("Q5", **{field_name: "wd:5"})
    assert "Q5" not in kb and "w" not in kb


def test_append_alias_keeps_the_sum_at_most_one(kb):
    with pytest.raises(KBError, match="sum to 1.05, more than 1"):
        kb.append_alias("Paris", "Q7259", 0.1)
    kb.append_alias("Paris", "Q7259", 0.05)
    found = kb.get_alias_candidates("Paris")
    assert [candidate.entity_id for candidate in found] == ["Q90", "Q830149", "Q7259"]
    assert sum(candidate.prior for candidate in found) == pytest.approx(1.0)
    with pytest.raises(KBError, match="already has entity 'Q90'"):
        kb.append_alias("Paris", "enwiki:Paris", 0.0)  # the same entity through its other id
    with pytest.raises(KBError, match="unknown entity"):
        kb.append_alias("Paris", "Q404", 0.0)
    kb.append_alias("Lutetia", "enwiki:Paris", 0.7)  # creates the alias, stores the primary id
    assert [(candidate.entity_id, candidate.prior) for candidate in kb.get_alias_candidates("Lutetia")] == [
        ("Q90", 0.7)
    ]


def test_other_ids_resolve(kb):
    assert kb.resolve("Q90") == "Q90"
    assert kb.resolve("enwiki:Paris") == "Q90"
    assert kb.resolve("enwiki:Nowhere") is None
    assert kb.get_entity("enwiki:Paris") == kb.get_entity("Q90")
    assert kb.get_entity("enwiki:Paris").other_ids == ("enwiki:Paris",)
    assert "enwiki:Paris" in kb and "Q90" in kb
    assert "Q404" not in kb and 90 not in kb
    with pytest.raises(KBError, match="unknown entity 'Q404'"):
        kb.get_entity("Q404")


def test_normalized_and_fuzzy_lookups_follow_writes(kb):
    assert [candidate.entity_id for candidate in kb.get_normalized_candidates("PARIS")] == ["Q90", "Q830149"]
    assert kb.get_normalized_candidates("ada lovelace") == []
    kb.add_alias("Ada Lovelace", ["Q7259"], [1.0])  # the compiled index is rebuilt after a write
    assert [candidate.entity_id for candidate in kb.get_normalized_candidates("ADA LOVELACE")] == ["Q7259"]
    fuzzy = kb.get_fuzzy_candidates("Ada Lovelance", min_score=0.8)
    assert [candidate.entity_id for candidate in fuzzy] == ["Q7259"]


def test_an_empty_kb_has_nothing_to_compile():
    empty = InMemoryKB()
    assert empty.get_alias_candidates("Paris") == []
    with pytest.raises(KBError, match="no entities"):
        empty.get_normalized_candidates("Paris")


def test_vectors_are_checked_and_searchable():
    kb = InMemoryKB()
    kb.add_entity("A", "alpha", vector=[1.0, 0.0, 0.0])
    kb.add_entity("B", "beta", vector=np.array([0.0, 2.0, 0.0]))
    with pytest.raises(KBError, match="has 2 values; the others have 3"):
        kb.add_entity("C", "gamma", vector=[1.0, 1.0])
    assert "C" not in kb
    assert kb.vector_dim == 3
    np.testing.assert_array_equal(kb.get_vector("B"), [0.0, 2.0, 0.0])
    with pytest.raises(KBError, match="has no vector"):
        kb.get_vector("Z")
    [nearest] = kb.get_dense_candidates(np.array([0.0, 1.0, 0.1], dtype=np.float32), limit=2)
    assert [candidate.entity_id for candidate in nearest] == ["B", "A"]
    assert nearest[0].scores["dense"] == pytest.approx(0.995, abs=1e-2)
