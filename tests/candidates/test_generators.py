"""Candidate generators over a small disk KB: exact, normalised, fuzzy, dense, and their union."""

import pytest

import elkit.kb.index as index_module
from elkit.candidates import (
    CandidateGenerator,
    DenseGenerator,
    ExactGenerator,
    FuzzyGenerator,
    NormalizedGenerator,
    UnionGenerator,
    mention_text,
)
from elkit.doc import Candidate, Doc
from elkit.kb import Entity, InMemoryKB, KBBuilder, open_kb
from elkit.kb.dense import embed_kb
from elkit.kb.sources import read_alias_table, read_entities_jsonl
from tests.kb.support import ALIAS_TABLE, TrigramEncoder, write_entities, write_text


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generators")
    builder = KBBuilder()
    builder.add_records(read_entities_jsonl(write_entities(folder)))
    builder.add_alias_rows(read_alias_table(write_text(folder, "aliases.tsv", ALIAS_TABLE)))
    builder.build(folder / "kb")
    embed_kb(folder / "kb", TrigramEncoder())
    return open_kb(folder / "kb")


def ids(candidates):
    return [candidate.entity_id for candidate in candidates]


def test_generators_follow_the_protocol(kb):
    for generator in (
        ExactGenerator(kb),
        NormalizedGenerator(kb),
        FuzzyGenerator(kb),
        DenseGenerator(kb, TrigramEncoder()),
    ):
        assert isinstance(generator, CandidateGenerator)
    assert isinstance(UnionGenerator([ExactGenerator(kb)]), CandidateGenerator)


def test_exact_is_case_sensitive_like_spacy(kb):
    exact = ExactGenerator(kb)
    found = exact("Paris")
    assert ids(found) == ["Q90", "Q830149"]
    assert [candidate.prior for candidate in found] == pytest.approx([0.75, 0.25])
    assert all(candidate.scores == {"exact": 1.0} and candidate.alias == "Paris" for candidate in found)
    assert exact("paris") == [] and exact("PARIS") == [] and exact("Paris ") == []
    assert ids(ExactGenerator(kb, limit=1)("Paris")) == ["Q90"]


def test_normalized_ignores_case_accents_and_punctuation(kb):
    normalized = NormalizedGenerator(kb)
    for text in ("PARIS", "paris", "Pàris", " Paris! "):
        found = normalized(text)
        assert ids(found) == ["Q90", "Q830149"], text
        assert all(candidate.scores == {"normalized": 1.0} and candidate.alias == "Paris" for candidate in found)
    assert ids(normalized("city-of-LIGHT")) == ["Q90"]
    assert normalized("Pariss") == []
    assert ids(NormalizedGenerator(kb, limit=1)("PARIS")) == ["Q90"]


def test_fuzzy_finds_a_misspelling(kb):
    fuzzy = FuzzyGenerator(kb)
    found = fuzzy("Ada Lovelance")
    assert found[0].entity_id == "Q7259"
    assert found[0].alias == "Ada Lovelace"  # the KB alias itself, not its normalised key
    assert 0.8 < found[0].scores["fuzzy"] < 1.0
    assert all(0.0 <= candidate.scores["fuzzy"] <= 1.0 for candidate in found)
    assert ids(fuzzy("Parris"))[:2] == ["Q90", "Q830149"]
    assert fuzzy("Paris")[0].scores["fuzzy"] == 1.0


def test_fuzzy_returns_nothing_for_unrelated_text(kb):
    assert FuzzyGenerator(kb, min_score=0.5)("xylophone quartet") == []
    assert FuzzyGenerator(kb, min_score=0.5)("") == []
    assert FuzzyGenerator(kb, min_score=0.5)("!!!") == []
    assert len(FuzzyGenerator(kb, limit=1, min_score=0.0)("Parris")) == 1


def test_fuzzy_reads_a_bounded_number_of_postings(monkeypatch):
    builder = KBBuilder()
    for number in range(2000):
        name = f"common entity name {number:04d}"
        builder.add_entity(Entity(f"E{number}", name), [name])
    builder.add_entity(Entity("Z", "Zyxwvut Quorble"), ["Zyxwvut Quorble"])
    index = builder.build()
    compared = []
    real_fuzz = index_module.fuzz

    class CountingFuzz:
        @staticmethod
        def ratio(query, key):
            compared.append(key)
            return real_fuzz.ratio(query, key)

        token_sort_ratio = staticmethod(real_fuzz.token_sort_ratio)

    monkeypatch.setattr(index_module, "fuzz", CountingFuzz)
    [(key_id, similarity)] = index.fuzzy_keys("Zyxwvut Quorbel", limit=1, budget=4)
    assert index.tries["keys"].restore_key(key_id) == "zyxwvut quorble"
    assert similarity == pytest.approx(0.93, abs=0.01)
    assert 1 <= len(compared) <= 4  # a scan would compare all 2,001 keys
    compared.clear()
    found = index.fuzzy_keys("common entity name 1234", limit=5)
    assert index.tries["keys"].restore_key(found[0][0]) == "common entity name 1234" and found[0][1] == 1.0
    # the one-edit index: only keys that share the query or one of its one-character deletions are compared
    variants = {"common entity name 1234"[:position] + "common entity name 1234"[position + 1:]
                for position in range(23)} | {"common entity name 1234"}
    assert 1 < len(compared) < 200
    assert all(({key} | {key[:position] + key[position + 1:] for position in range(len(key))}) & variants
               for key in compared)
    compared.clear()
    found = index.fuzzy_keys("uncommon entity nane 12", limit=5)  # nothing within one edit: the 3-gram index
    assert found and len(compared) <= 64  # the default `verify`: only the best gram overlaps get a real similarity


def test_dense_finds_the_entity_with_the_same_text(kb):
    encoder = TrigramEncoder()
    dense = DenseGenerator(kb, encoder, limit=2)
    found = dense("Ada Lovelace: English mathematician")
    assert len(found) == 2
    assert found[0].entity_id == "Q7259"
    assert found[0].scores["dense"] == pytest.approx(1.0, abs=2e-3)
    assert found[0].scores["dense"] > found[1].scores["dense"]
    assert (
        DenseGenerator(kb, encoder, limit=3, min_score=0.999)("Universe: totality of space and time")[0].entity_id
        == "Q1"
    )
    assert all(
        candidate.scores["dense"] >= 0.999
        for candidate in DenseGenerator(kb, encoder, min_score=0.999)("Universe: totality of space and time")
    )


def test_dense_batch_encodes_once(kb):
    encoder = TrigramEncoder()
    dense = DenseGenerator(kb, encoder, limit=1)
    texts = ["Paris: capital of France", "Universe: totality of space and time", "Paris: capital of France"]
    found = dense.batch(texts)
    assert encoder.calls == 1
    assert [ids(candidates) for candidates in found] == [["Q90"], ["Q1"], ["Q90"]]
    assert dense.batch([]) == []


def test_union_merges_per_entity_and_keeps_every_score(kb):
    generators = [ExactGenerator(kb), NormalizedGenerator(kb), FuzzyGenerator(kb), DenseGenerator(kb, TrigramEncoder())]
    union = UnionGenerator(generators, limit=64)
    found = union("Paris")
    assert len(ids(found)) == len(set(ids(found)))
    by_id = {candidate.entity_id: candidate for candidate in found}
    paris = by_id["Q90"]
    assert {"exact", "normalized", "fuzzy", "dense", "union"} <= set(paris.scores)
    assert paris.scores["exact"] == 1.0 and paris.scores["normalized"] == 1.0 and paris.scores["fuzzy"] == 1.0
    assert paris.alias == "Paris" and paris.prior == pytest.approx(0.75)
    # union = max(weight x source score) + prior_weight x prior
    expected = max(union.weights[source] * paris.scores[source] for source in ("exact", "normalized", "fuzzy", "dense"))
    assert paris.scores["union"] == pytest.approx(expected + 0.1 * 0.75)
    union_scores = [candidate.scores["union"] for candidate in found]
    assert union_scores == sorted(union_scores, reverse=True)
    assert ids(found)[:2] == ["Q90", "Q830149"]
    # Entities only the dense generator proposes are kept, with their one score.
    dense_only = [candidate for candidate in found if set(candidate.scores) == {"dense", "union"}]
    assert dense_only and all(candidate.prior == 0.0 for candidate in dense_only)
    assert ids(UnionGenerator(generators, limit=2)("Paris")) == ids(found)[:2]


def test_union_merge_rule():
    union = UnionGenerator([], weights={"fuzzy": 0.5, "dense": 0.85}, prior_weight=0.2)
    merged = union.merge(
        [
            [Candidate("A", "", 0.0, {"dense": 0.9})],
            [Candidate("A", "alpha", 0.4, {"fuzzy": 0.8}), Candidate("B", "beta", 0.9, {"fuzzy": 0.6})],
            [Candidate("A", "Alpha", 0.6, {"fuzzy": 0.7})],
        ]
    )
    assert ids(merged) == ["A", "B"]
    first, second = merged
    assert first.alias == "alpha"  # the first non-empty alias
    assert first.prior == 0.6  # the best prior
    assert first.scores["fuzzy"] == 0.8 and first.scores["dense"] == 0.9  # the best score per source
    assert first.scores["union"] == pytest.approx(max(0.85 * 0.9, 0.5 * 0.8) + 0.2 * 0.6)
    assert second.scores["union"] == pytest.approx(0.5 * 0.6 + 0.2 * 0.9)
    assert union.merge([]) == []


def test_batch_equals_one_call_per_mention(kb):
    texts = ["Paris", "PARIS", "Ada Lovelance", "Paris", "nothing like it", "cosmos"]
    generators = [
        ExactGenerator(kb),
        NormalizedGenerator(kb),
        FuzzyGenerator(kb),
        DenseGenerator(kb, TrigramEncoder(), limit=3),
        UnionGenerator([ExactGenerator(kb), NormalizedGenerator(kb), FuzzyGenerator(kb)], limit=3),
    ]
    for generator in generators:
        assert generator.batch(texts) == [generator(text) for text in texts], generator.name


def test_spans_work_as_mentions(kb):
    doc = Doc.from_words(["She", "moved", "to", "PARIS", "with", "Ada", "Lovelance", "."], [True] * 6 + [False, False])
    paris = doc.char_span(doc.text.index("PARIS"), doc.text.index("PARIS") + 5)
    ada = doc.char_span(doc.text.index("Ada"), doc.text.index("Lovelance") + len("Lovelance"))
    assert (mention_text(paris), mention_text(ada), mention_text("text")) == ("PARIS", "Ada Lovelance", "text")
    assert ExactGenerator(kb)(paris) == []
    assert ids(NormalizedGenerator(kb)(paris)) == ["Q90", "Q830149"]
    assert FuzzyGenerator(kb)(ada)[0].entity_id == "Q7259"
    union = UnionGenerator([ExactGenerator(kb), NormalizedGenerator(kb), FuzzyGenerator(kb)])
    assert union.batch([paris, ada]) == [union("PARIS"), union("Ada Lovelance")]
    assert DenseGenerator(kb, TrigramEncoder())(paris) == DenseGenerator(kb, TrigramEncoder())("PARIS")


def test_generators_work_on_an_in_memory_kb():
    memory = InMemoryKB()
    memory.add_entity("Q90", "Paris")
    memory.add_entity("Q7259", "Ada Lovelace")
    memory.add_alias("Paris", ["Q90"], [1.0])
    memory.add_alias("Ada Lovelace", ["Q7259"], [1.0])
    union = UnionGenerator([ExactGenerator(memory), NormalizedGenerator(memory), FuzzyGenerator(memory)])
    assert ids(union("Paris")) == ["Q90"]
    assert ids(union("PARIS")) == ["Q90"]
    assert ids(union("Ada Lovelance")) == ["Q7259"]
