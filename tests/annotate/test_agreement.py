"""Inter-annotator agreement: textbook kappas, span F1 (exact and overlap), links, disagreement order, CLI, review."""

import json

import pytest

from elkit.annotate import Store
from elkit.annotate.agreement import (
    cohen_kappa,
    compute_agreement,
    fleiss_kappa,
    span_f1,
    span_matches,
    text_agreement,
    token_labels,
)
from elkit.annotate.recipes import review
from elkit.cli.main import main
from elkit.doc.task import doc_to_task
from elkit.errors import DataError
from elkit.tokenize import Tokenizer

APPLE = "Apple opened a store in Paris"
COOK = "Tim Cook met Angela Merkel"

# Fleiss (1971) as tabulated on Wikipedia: 10 subjects, 14 raters, 5 categories; kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def spans_task(text, spans, answer="accept", view="spans"):
    """A task whose tokens are the space-separated words; spans are (first token, last token + 1, label)."""
    tokens, position = [], 0
    for index, word in enumerate(text.split(" ")):
        tokens.append({"text": word, "start": position, "end": position + len(word), "id": index})
        position += len(word) + 1
    return {"text": text, "tokens": tokens, "answer": answer, "_view_id": view,
            "spans": [{"start": tokens[first]["start"], "end": tokens[last - 1]["end"], "token_start": first,
                       "token_end": last - 1, "label": label} for first, last, label in spans]}


def choice_task(text, start, end, chosen, answer="accept"):
    task = doc_to_task(Tokenizer()(text), include_tokens=True)
    task["spans"] = [{"start": start, "end": end, "label": "LOC"}]
    task.update(options=[{"id": "Q90"}, {"id": "Q830149"}, {"id": "NIL"}], accept=[chosen], answer=answer,
                _view_id="choice")
    return task


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "db.sqlite")


@pytest.fixture
def partial(store):
    """Two annotators who disagree on a label (Paris) and on a boundary (Tim Cook / Cook)."""
    store.add_answers("news", [spans_task(APPLE, [(0, 1, "ORG"), (5, 6, "LOC")]),
                               spans_task(COOK, [(0, 2, "PER"), (3, 5, "PER")])], session_id="alice")
    store.add_answers("news", [spans_task(APPLE, [(0, 1, "ORG"), (5, 6, "ORG")]),
                               spans_task(COOK, [(1, 2, "PER"), (3, 5, "PER")])], session_id="bob")
    return store


def test_textbook_kappas():
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.2099, abs=1e-4)
    # 50 items: both yes 20, yes/no 5, no/yes 10, both no 15: observed 0.7, expected 0.5, kappa 0.4.
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    # Expected agreement 1 (one label throughout): kappa is 1.0 by definition.
    assert cohen_kappa(["O"] * 4, ["O"] * 4) == 1.0 and fleiss_kappa([[3, 0], [3, 0]]) == 1.0
    assert cohen_kappa([], []) is None and fleiss_kappa([]) is None
    with pytest.raises(ValueError):
        fleiss_kappa([[2, 1], [1, 1]])


def test_identical_annotators_agree_fully(store):
    tasks = [spans_task(APPLE, [(0, 1, "ORG"), (5, 6, "LOC")]), spans_task(COOK, [(0, 2, "PER")])]
    for session in ("alice", "bob", "carol"):
        store.add_answers("news", tasks, session_id=session)
    report = compute_agreement(store, "news")
    assert report.sessions == ["alice", "bob", "carol"] and len(report.pairs) == 3
    for pair in report.pairs:
        assert (pair.texts, pair.exact_f1, pair.overlap_f1, pair.cohen_kappa) == (2, 1.0, 1.0, 1.0)
    assert report.fleiss_kappa == 1.0 and report.fleiss_texts == 2 and report.mean_exact_f1 == 1.0
    assert [entry.score for entry in report.disagreements] == [0.0, 0.0] and report.links is None


def test_partial_disagreement_matches_hand_computed_numbers(partial):
    report = compute_agreement(partial, "news")
    (pair,) = report.pairs
    # Exact: Apple and Angela Merkel match, 2 of 4 + 4 spans -> 2 * 2 / 8.
    assert pair.exact_f1 == pytest.approx(0.5)
    # Overlap: "Tim Cook" and "Cook" share a token and a label; Paris LOC / ORG still differ -> 2 * 3 / 8.
    assert pair.overlap_f1 == pytest.approx(0.75)
    # 11 tokens, 9 agree; marginals alice ORG 1 LOC 1 PER 4 O 5, bob ORG 2 PER 3 O 6 -> expected 44/121.
    assert pair.cohen_kappa == pytest.approx(5 / 7) and pair.tokens == 11
    # Pooled marginals (ORG 3, LOC 1, PER 7, O 11 of 22) -> (9/11 - 180/484) / (1 - 180/484) = 27/38.
    assert report.fleiss_kappa == pytest.approx(27 / 38)
    assert [entry.score for entry in report.disagreements] == [pytest.approx(0.5)] * 2
    assert report.disagreements[0].annotations["bob"] == ["Apple [ORG]", "Paris [ORG]"]
    assert report.to_dict()["pairs"][0]["exact_f1"] == pytest.approx(0.5)


def test_cohen_kappa_agrees_with_scikit_learn(partial):
    metrics = pytest.importorskip("sklearn.metrics")
    tokens = [(0, 5), (6, 12), (13, 14), (15, 20), (21, 23), (24, 29)]
    first = [*token_labels(tokens, [(0, 5, "ORG"), (24, 29, "LOC")]), "PER", "PER", "O", "PER", "PER"]
    second = [*token_labels(tokens, [(0, 5, "ORG"), (24, 29, "ORG")]), "O", "PER", "O", "PER", "PER"]
    assert cohen_kappa(first, second) == pytest.approx(metrics.cohen_kappa_score(first, second))
    assert compute_agreement(partial, "news").pairs[0].cohen_kappa == pytest.approx(
        metrics.cohen_kappa_score(first, second))


def test_overlap_matching_is_one_to_one():
    tokens = [(0, 3), (4, 8), (9, 13)]  # "New York City"
    whole = [(0, 8, "LOC")]
    pieces = [(0, 3, "LOC"), (4, 8, "LOC")]
    assert span_matches(whole, pieces, tokens) == 0
    assert span_matches(whole, pieces, tokens, overlap=True) == 1
    assert span_matches(whole, [(4, 13, "ORG")], tokens, overlap=True) == 0
    assert span_f1(1, 1, 2) == pytest.approx(2 / 3) and span_f1(0, 0, 0) == 1.0


def test_link_agreement_on_el_manual_answers(store):
    text = "Paris and Paris"
    chosen = {"alice": ("Q90", "Q90"), "bob": ("Q90", "NIL"), "carol": ("Q90", "NIL")}
    for session, (first, second) in chosen.items():
        store.add_answers("links", [choice_task(text, 0, 5, first), choice_task(text, 10, 15, second)],
                          session_id=session)
    store.add_answers("links", [choice_task(text, 0, 5, "Q830149", answer="reject")], session_id="dave")
    report = compute_agreement(store, "links")
    # Mention 1: all three agree (1); mention 2: one pair of three agrees (1/3); mean 2/3.
    assert report.links.mentions == 2 and report.links.unanimous == 1
    assert report.links.agreement == pytest.approx(2 / 3)
    pairs = {(pair.first, pair.second): pair for pair in report.pairs}
    assert pairs["alice", "bob"].link_agreement == 0.5 and pairs["alice", "bob"].link_kappa == pytest.approx(0.0)
    assert pairs["bob", "carol"].link_agreement == 1.0 and pairs["bob", "carol"].link_kappa == 1.0
    assert pairs["alice", "bob"].exact_f1 is None and report.fleiss_kappa is None
    assert report.skipped["rejected or ignored answers"] == 1
    assert report.disagreements[0].annotations["bob"] == ["Paris -> Q90", "Paris -> NIL"]


def test_most_disagreement_first_and_skipped_answers(store):
    texts = ["one two three", "four five six", "seven eight nine", "ten eleven", "twelve thirteen"]
    store.add_answers("news", [spans_task(texts[0], [(0, 1, "A")]), spans_task(texts[1], [(0, 1, "A"), (2, 3, "B")]),
                               spans_task(texts[2], [(0, 1, "A")]), spans_task(texts[3], [(0, 1, "A")]),
                               spans_task(texts[4], [(0, 1, "A")])], session_id="alice")
    store.add_answers("news", [spans_task(texts[0], [(0, 1, "A")]), spans_task(texts[1], [(0, 1, "A")]),
                               spans_task(texts[2], [(1, 2, "B")]), spans_task(texts[4], [], answer="reject"),
                               spans_task(texts[3], [(0, 1, "A")], view="binary")], session_id="bob")
    report = compute_agreement(store, "news")
    assert [entry.text for entry in report.disagreements] == [texts[2], texts[1], texts[0]]
    assert [entry.score for entry in report.disagreements] == [1.0, pytest.approx(1 / 3), 0.0]
    assert report.skipped == {"rejected or ignored answers": 1, "binary answers (not compared)": 1,
                              "texts answered by one annotator only": 2}
    assert report.pairs[0].texts == 3
    # The review stream follows the same order and shows each text's agreement.
    stream = list(review("reviewed", ["news"], store).stream())
    assert [task["text"] for task in stream] == [texts[2], texts[1], texts[0], texts[3], texts[4]]
    assert [task["meta"].get("agreement") for task in stream] == [0.0, 0.6667, 1.0, None, None]
    assert text_agreement(store.answers("news")[:1]) is None


def test_errors_for_unknown_names_and_a_single_annotator(partial):
    with pytest.raises(DataError, match="no session 'carol'.*sessions: 'alice', 'bob'"):
        compute_agreement(partial, "news", ["alice", "carol"])
    with pytest.raises(DataError, match="no dataset 'missing'"):
        compute_agreement(partial, "missing")
    with pytest.raises(DataError, match="at least two annotators"):
        compute_agreement(partial, "news", ["alice"])


def test_cli_prints_the_report_and_writes_json(tmp_path, partial, capsys):
    database = partial.url
    output = tmp_path / "report.json"
    assert main(["agreement", "news", "--db", database, "--sessions", "alice,bob", "--json", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "agreement on 'news': 2 annotators, 2 texts compared" in printed
    assert "Fleiss' kappa 0.711 over 2 texts" in printed and "mean exact F1 0.500" in printed
    assert "alice / bob" in printed and "most disagreement" in printed
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["pairs"][0]["overlap_f1"] == pytest.approx(0.75) and len(report["disagreements"]) == 2
    assert main(["agreement", "news", "--db", database, "--sessions", "alice,zoe"]) == 3
    assert "no session 'zoe'" in capsys.readouterr().err
    assert main(["agreement", "missing", "--db", database]) == 3


def test_prodigy_jsonl_round_trip_keeps_what_agreement_needs(tmp_path, partial):
    from elkit.annotate.agreement import compute_agreement
    from elkit.annotate.data import export_answers, import_answers, read_answers_file

    path = tmp_path / "out.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        export_answers(partial, "news", stream)
    other = Store(tmp_path / "other.sqlite")
    import_answers(other, "copy", read_answers_file(path))
    before, after = compute_agreement(partial, "news").to_dict(), compute_agreement(other, "copy").to_dict()
    before.pop("dataset", None), after.pop("dataset", None)
    assert after == before
