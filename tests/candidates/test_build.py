"""The generator set built from CandidateSettings, and the training-count table as a generator."""

import pytest

from elkit.candidates import (
    AppendGenerator,
    CandidateSettings,
    DenseGenerator,
    ExactGenerator,
    FuzzyGenerator,
    MentionTable,
    NormalizedGenerator,
    TableGenerator,
    UnionGenerator,
    build_generator,
)
from elkit.doc import NIL, Candidate
from elkit.errors import ConfigError
from elkit.kb import InMemoryKB
from elkit.settings import validate_settings


def ids(candidates):
    return [candidate.entity_id for candidate in candidates]


def make_kb(vectors: bool = False) -> InMemoryKB:
    kb = InMemoryKB()
    for entity_id, name in (("Q90", "Paris"), ("Q830149", "Paris, Texas"), ("Q47899", "Paris Hilton"),
                            ("Q7259", "Ada Lovelace")):
        kb.add_entity(entity_id, name, vector=[1.0, 0.0] if vectors else None)
    kb.add_alias("Paris", ["Q90", "Q830149"], [0.7, 0.3])
    kb.add_alias("Ada Lovelace", ["Q7259"], [1.0])
    return kb


def filled_table() -> MentionTable:
    table = MentionTable()
    for block, text, entity in (("block-0", "Paris", "Q47899"), ("block-1", "Paris", "Q47899"),
                                ("block-1", "Paris", "Q90"), ("block-2", "Paris", NIL),
                                ("block-2", "Paris", "Q-unknown"), ("block-3", "PARIS!", "Q830149")):
        table.add(block, text, entity)
    return table


def test_settings_defaults_and_checks():
    settings = CandidateSettings()
    assert settings.to_config() == {"generators": ["exact", "normalized", "fuzzy"], "limit": 30,
                                    "fuzzy_min_score": 0.6}
    with pytest.raises(ConfigError, match="generators"):
        validate_settings(CandidateSettings, {"generators": ["telepathy"]}, "candidates")
    with pytest.raises(ConfigError, match="generators"):
        validate_settings(CandidateSettings, {"generators": []}, "candidates")
    with pytest.raises(ConfigError, match="limitt: unknown setting"):
        validate_settings(CandidateSettings, {"limitt": 3}, "candidates")


def test_build_makes_the_declared_generators_in_order():
    kb = make_kb(vectors=True)
    union = build_generator(kb, CandidateSettings(generators=["fuzzy", "exact", "dense"], limit=7,
                                                  fuzzy_min_score=0.4))
    assert isinstance(union, UnionGenerator) and union.limit == 7
    assert [type(generator) for generator in union.generators] == [FuzzyGenerator, ExactGenerator, DenseGenerator]
    fuzzy, _, dense = union.generators
    assert (fuzzy.limit, fuzzy.min_score, dense.limit) == (7, 0.4, 7)
    # dense needs vectors in the KB: without them it is left out
    plain = build_generator(make_kb(), CandidateSettings(generators=["normalized", "dense"]))
    assert [type(generator) for generator in plain.generators] == [NormalizedGenerator]
    assert ids(build_generator(make_kb())("Paris")) == ["Q90", "Q830149"]


def test_table_generator_ranks_by_count_and_leaves_blocks_out():
    kb = make_kb()
    table = filled_table()
    found = TableGenerator(table, kb)("Paris")
    # NIL is never a candidate but counts in the total; an entity the KB does not know is dropped
    assert ids(found) == ["Q47899", "Q90"]
    assert [candidate.scores["table"] for candidate in found] == pytest.approx([2 / 5, 1 / 5])
    assert all(candidate.prior == 0.0 and candidate.alias == "Paris" for candidate in found)
    assert ids(TableGenerator(table)("Paris")) == ["Q47899", "Q90", "Q-unknown"]
    # the normalised key's counts are used only when the text as written was never seen
    assert ids(TableGenerator(table, kb)("paris")) == ["Q47899", "Q90", "Q830149"]
    left_out = TableGenerator(table, kb).batch(["Paris", "Paris"], left_out=["block-1", ""])
    assert ids(left_out[0]) == ["Q47899"] and left_out[0][0].scores["table"] == pytest.approx(1 / 3)
    assert left_out[1] == found
    assert TableGenerator(MentionTable(), kb)("Paris") == []


def test_append_keeps_the_first_order_and_adds_the_rest():
    first = [Candidate("A", "a", 0.5, {"exact": 1.0}), Candidate("B", "b", 0.5, {"exact": 1.0})]
    then = [Candidate("C", "c", 0.0, {"table": 0.6}), Candidate("B", "b", 0.0, {"table": 0.4})]
    merged = AppendGenerator.merge(first, then)
    assert ids(merged) == ["A", "B", "C"]
    assert merged[1].scores == {"exact": 1.0, "table": 0.4} and merged[1].prior == 0.5
    assert AppendGenerator.merge(first, []) == first


def test_build_with_a_table_appends_the_training_entities():
    kb = make_kb()
    table = filled_table()
    union = build_generator(kb, CandidateSettings())
    combined = build_generator(kb, CandidateSettings(), table)
    assert isinstance(combined, AppendGenerator)
    found = combined("Paris")
    assert ids(found) == ["Q90", "Q830149", "Q47899"]
    assert found[0].scores == {**union("Paris")[0].scores, "table": pytest.approx(1 / 5)}
    assert "table" not in found[1].scores and found[2].scores == {"table": pytest.approx(2 / 5)}
    assert combined.batch(["Paris"], left_out=["block-0"])[0][2].scores["table"] == pytest.approx(1 / 4)
    # the table is read when looking up: counts added later count, and an empty table adds nothing
    empty = MentionTable()
    later = build_generator(kb, CandidateSettings(), empty)
    assert later("Paris") == union("Paris")
    empty.add("block-0", "Ada Lovelace", "Q90")
    assert ids(later("Ada Lovelace")) == ["Q7259", "Q90"]
