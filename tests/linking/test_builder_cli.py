"""create_simple, `elkit link`, the HTML view and the linking scores."""

import json

import pytest

from elkit.cli.main import main
from elkit.doc import NIL, Candidate
from elkit.evaluation import gold_id_set, score_links
from elkit.linking.builder import create_simple, kb_patterns, self_training_docs
from elkit.render import render_html

from .support import make_docs, make_kb

ENTITIES = [
    {"entity_id": "Q90", "label": "Paris", "description": "capital and largest city of France", "entity_type": "LOC",
     "aliases": ["Paris, France"], "popularity": 0.9},
    {"entity_id": "Q830149", "label": "Paris", "description": "city in Lamar County, Texas", "entity_type": "LOC",
     "aliases": ["Paris, Texas"], "popularity": 0.3},
    {"entity_id": "Q47899", "label": "Paris Hilton", "description": "American media personality",
     "entity_type": "PER", "aliases": ["Hilton"], "popularity": 0.6},
    {"entity_id": "Q7259", "label": "Ada Lovelace", "description": "English mathematician <b>&</b> writer",
     "entity_type": "PER", "aliases": [], "popularity": 0.8},
]


@pytest.fixture(scope="module")
def entities_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("kb") / "entities.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in ENTITIES), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_create_simple_links_dictionary_mentions(entities_file, cache):
    nlp = create_simple(entities_file, cache_dir=cache, epochs=20, mentions="patterns", linker="self-trained")
    doc = nlp("Ada Lovelace met Paris Hilton in Paris, Texas.")
    assert [(span.text, span.label, span.kb_id) for span in doc.ents] == [
        ("Ada Lovelace", "PER", "Q7259"), ("Paris Hilton", "PER", "Q47899"), ("Paris, Texas", "LOC", "Q830149")]
    assert all(span.candidates for span in doc.ents)
    again = create_simple(entities_file, cache_dir=cache, epochs=20, mentions="patterns", linker="self-trained")
    assert [span.kb_id for span in again("Ada Lovelace met Paris Hilton in Paris, Texas.").ents] == \
        [span.kb_id for span in doc.ents]
    assert len([path for path in cache.iterdir() if path.name.startswith("linker-")]) == 1


def test_kb_patterns_and_self_training_docs():
    kb = make_kb()
    patterns = kb_patterns(kb)
    assert {"label": "LOC", "pattern": "Paris"} in patterns and {"label": "PER", "pattern": "Paris"} in patterns
    docs = self_training_docs(kb)
    assert docs and all(len(doc.ents) == 1 and doc.ents[0].kb_id for doc in docs)


def test_link_command_writes_jsonl_html_and_table(entities_file, cache, tmp_path, capsys):
    texts = tmp_path / "texts.jsonl"
    texts.write_text(json.dumps({"text": "Ada Lovelace visited Paris, France.", "meta": {"id": "a"}}) + "\n"
                     + json.dumps({"text": "Nobody <script>alert(1)</script> here.", "meta": {"id": "b"}}) + "\n",
                     encoding="utf-8")
    output, page = tmp_path / "out.jsonl", tmp_path / "out.html"
    code = main(["link", str(texts), "--entities", str(entities_file), "--output", str(output), "--html", str(page),
                 "--cache-dir", str(cache), "--top-k", "2"])
    assert code == 0
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [span["kb_id"] for span in records[0]["spans"]] == ["Q7259", "Q90"]
    assert records[0]["spans"][1]["name"] == "Paris"
    assert len(records[0]["spans"][1]["candidates"]) <= 2
    assert records[0]["spans"][1]["candidates"][0]["name"] == "Paris"
    assert records[1]["spans"] == [] and records[1]["meta"]["id"] == "b"
    shown = capsys.readouterr().out
    assert "Q7259" in shown and "linked 2 documents" in shown
    html = page.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "Q7259" in html
    # the same run reading the entity vectors computed once gives the same links
    precomputed = tmp_path / "precomputed.jsonl"
    code = main(["link", str(texts), "--entities", str(entities_file), "--output", str(precomputed),
                 "--cache-dir", str(cache), "--top-k", "2", "--precompute-embeddings", "--no-table"])
    assert code == 0
    assert [path.name.startswith("entity-vectors-") for path in cache.iterdir()].count(True) == 1
    again = [json.loads(line) for line in precomputed.read_text(encoding="utf-8").splitlines()]
    assert [[span["kb_id"] for span in record["spans"]] for record in again] == \
        [[span["kb_id"] for span in record["spans"]] for record in records]


def test_link_command_needs_a_kb(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("Paris\n", encoding="utf-8")
    assert main(["link", str(texts), "--output", str(tmp_path / "out.jsonl")]) != 0


def test_render_escapes_kb_text():
    kb = make_kb()
    kb.add_entity("Q666", "<img src=x onerror=alert(1)>", "bad")
    doc = make_docs([("Paris is big .", [(0, 1, "LOC", "Q666")])])[0]
    html = render_html([doc], kb)
    assert "<img" not in html and "&lt;img" in html


def test_render_links_entities_and_shows_candidates():
    kb = make_kb()
    doc = make_docs([("Paris is big .", [(0, 1, "LOC", "Q90")])])[0]
    span = doc.ents[0]
    doc.ents = [span.replace(link_score=0.8, candidates=(
        Candidate("Q90", "Paris", 0.7, score=0.8), Candidate("Q830149", "Paris", 0.3, score=0.15),
        Candidate("x\"><script>", "Paris", 0.0, score=0.05)))]
    html = render_html([doc], kb, url_pattern="https://www.wikidata.org/wiki/{id}", top_k=3)
    assert 'href="https://www.wikidata.org/wiki/Q90"' in html and 'class="cands"' in html
    assert '<span class="chosen"><a href="https://www.wikidata.org/wiki/Q90">Paris [Q90] 0.80</a></span>' in html
    assert "Q830149" in html and "<script>" not in html and "x%22%3E%3Cscript%3E" in html
    assert 'href="javascript' not in render_html([doc], kb, url_pattern="javascript:alert('{id}')")


def test_score_links_counts_nil_and_composites():
    gold = make_docs([("Paris and Lovelace met Zorblat .", [(0, 1, "LOC", "Q90|Q830149"), (2, 3, "PER", "Q7259"),
                                                              (4, 5, "PER", NIL)])])
    predicted = make_docs([("Paris and Lovelace met Zorblat .", [(0, 1, "LOC", "Q830149"), (2, 3, "PER", NIL),
                                                                   (4, 5, "PER", NIL)])])
    spans = list(predicted[0].ents)
    spans[1] = spans[1].replace(candidates=(Candidate("Q7259", score=0.4),))
    predicted[0].ents = spans
    scores = score_links(predicted, gold)
    assert scores.linked_mentions == 2 and scores.nil_mentions == 1
    assert scores.accuracy == 0.5
    assert scores.accuracy_no_nil == 0.5  # the first span kept no candidates in this hand-made prediction
    assert scores.nil_precision == 0.5 and scores.nil_recall == 1.0
    assert scores.e2e_precision == 1.0 and scores.e2e_recall == 0.5
    assert gold_id_set("D1+D2") == {"D1+D2", "D1", "D2"}


def test_evaluate_command_reports_linking(entities_file, cache, tmp_path, capsys):
    nlp = create_simple(entities_file, cache_dir=cache, epochs=20, mentions="patterns", linker="self-trained")
    nlp.to_disk(tmp_path / "model")
    text = "Ada Lovelace visited Paris, France."
    gold = {"text": text, "spans": [{"start": 0, "end": 12, "label": "PER", "kb_id": "Q7259"},
                                    {"start": 21, "end": 34, "label": "LOC", "kb_id": "Q90"}]}
    data = tmp_path / "gold.jsonl"
    data.write_text(json.dumps(gold) + "\n", encoding="utf-8")
    assert main(["evaluate", str(tmp_path / "model"), str(data)]) == 0
    shown = capsys.readouterr().out
    assert "in_kb_accuracy: 1.0000" in shown
    assert "e2e_f: 1.0000" in shown
