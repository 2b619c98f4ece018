"""The command line, run in-process through ``main`` (exit codes and output)."""

import json

import pytest

import elkit
from elkit.cli import main
from tests.corpora.test_aida import AIDA
from tests.corpora.test_conll import CONLL_IOB2

PIPELINE = '[nlp]\npipeline = ["sentencizer"]\n\n[components.sentencizer]\nfactory = "elkit.Sentencizer.v1"\n'


def run(capsys, *arguments):
    code = main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"elkit {elkit.__version__}"


def test_help_lists_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("stats", "convert", "apply"):
        assert command in out


def test_stats_prints_plain_counts(tmp_path, capsys):
    path = tmp_path / "train.tsv"
    path.write_text(AIDA, encoding="utf-8")
    code, out, _ = run(capsys, "stats", str(path))
    assert code == 0
    lines = dict(line.split(None, 1) for line in out.splitlines() if line.strip() and not line.startswith("  "))
    assert lines["format"].strip() == "aida"
    assert lines["documents"].strip() == "2" and lines["entities"].strip() == "5"
    assert lines["linked"].strip() == "3" and lines["NIL"].strip() == "2"
    code, out, _ = run(capsys, "stats", str(path), "--json")
    assert json.loads(out)["linked"] == 3


def test_bad_input_gives_one_line_and_exit_code(tmp_path, capsys):
    path = tmp_path / "bad.conll"
    path.write_text(CONLL_IOB2.replace("call NN I-NP O", "call NN O"), encoding="utf-8")
    code, _, err = run(capsys, "stats", str(path), "--format", "conll")
    assert code == 3
    assert err.strip().splitlines() == [f"error: {path}:6 [columns]: expected 4 columns (as on line 3), found 3"]
    code, _, err = run(capsys, "--verbose", "stats", str(path), "--format", "conll")
    assert code == 3 and "Traceback" in err
    code, out, err = run(capsys, "stats", str(path), "--lenient")
    assert code == 0 and "skipped 1 bad records" in err and "documents  2" in out


def test_unknown_format_is_a_config_error(tmp_path, capsys):
    path = tmp_path / "x.conll"
    path.write_text(CONLL_IOB2, encoding="utf-8")
    code, _, err = run(capsys, "stats", str(path), "--format", "xml")
    assert code == 2 and "unknown format 'xml'" in err


def test_convert(tmp_path, capsys):
    source = tmp_path / "in.conll"
    source.write_text(CONLL_IOB2, encoding="utf-8")
    target = tmp_path / "out.jsonl"
    code, out, _ = run(capsys, "convert", str(source), str(target))
    assert code == 0 and "wrote 2 documents (conll → jsonl)" in out
    back = tmp_path / "back.conll"
    assert run(capsys, "convert", str(target), str(back))[0] == 0
    # JSONL keeps tokens, entities and the POS / chunk columns (as token keys); it has no sentence boundaries.
    assert back.read_text(encoding="utf-8").split() == CONLL_IOB2.split()
    same = tmp_path / "same.conll"
    assert run(capsys, "convert", str(source), str(same))[0] == 0
    assert same.read_text(encoding="utf-8") == CONLL_IOB2
    code, _, err = run(capsys, "convert", str(source), str(tmp_path / "out.xyz"))
    assert code == 2 and "pass --to" in err


def test_apply_runs_a_pipeline(tmp_path, capsys):
    config = tmp_path / "pipeline.toml"
    config.write_text(PIPELINE, encoding="utf-8")
    texts = tmp_path / "texts.jsonl"
    texts.write_text('{"text": "One. Two!", "meta": {"id": 1}}\n\n{"text": "Three"}\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    code, out, _ = run(capsys, "apply", str(config), str(texts), str(output))
    assert code == 0 and "wrote 2 documents" in out
    first, second = (json.loads(line) for line in output.read_text(encoding="utf-8").splitlines())
    assert first["text"] == "One. Two!" and first["meta"]["id"] == 1 and len(first["tokens"]) == 4
    assert second["meta"]["source"].endswith(":3")
    page = tmp_path / "out.html"
    code, out, _ = run(capsys, "apply", str(config), str(texts), str(output), "--html", str(page))
    assert code == 0 and "wrote the HTML view" in out
    assert "One. Two!" in page.read_text(encoding="utf-8")
    code, _, err = run(capsys, "apply", str(config), str(texts), str(output), "--max-length", "5")
    assert code != 0 and "longer than the limit of 5" in err


def test_apply_reports_bad_lines(tmp_path, capsys):
    config = tmp_path / "pipeline.toml"
    config.write_text(PIPELINE, encoding="utf-8")
    texts = tmp_path / "texts.jsonl"
    texts.write_text('{"text": "fine"}\n{"text": ""}\n', encoding="utf-8")
    code, _, err = run(capsys, "apply", str(config), str(texts), str(tmp_path / "out.jsonl"))
    assert code == 3 and "texts.jsonl:2 [text]" in err


@pytest.mark.parametrize("arguments", [["db-in"], ["convert", "a"], ["nonsense"]])
def test_usage_errors(capsys, arguments):
    code, _, _ = run(capsys, *arguments)
    assert code == 2


def test_stats_of_a_missing_path_says_it_is_neither_a_file_nor_a_dataset(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ELKIT_DATABASE", f"sqlite:///{tmp_path / 'elkit.db'}")
    missing = tmp_path / "train.conll"
    code, _, err = run(capsys, "stats", str(missing))
    assert code == 3
    message = err.strip().splitlines()[-1]
    assert "neither a corpus file (no such path) nor a dataset" in message and str(missing) in message
    assert "Traceback" not in err


def test_stats_with_db_names_a_dataset_even_when_a_file_has_that_name(tmp_path, capsys):
    path = tmp_path / "train.tsv"
    path.write_text(AIDA, encoding="utf-8")
    code, _, err = run(capsys, "stats", str(path), "--db", str(tmp_path / "db.sqlite"))
    assert code == 3 and f"no dataset {str(path)!r}" in err and "leave out --db" in err


def test_linking_scores_on_mismatched_documents_are_a_data_error_not_a_bug(tmp_path, monkeypatch, capsys):
    from elkit.doc import Doc
    from elkit.kb import InMemoryKB

    class FakeLinker:  # stands in for the entity linker: the scoring is what is tested
        name = "linker"
        kb = InMemoryKB()

    class FakePipeline:
        components = [("linker", FakeLinker())]
        pipe_names = ["linker"]

    def other_texts(linker, gold, batch_size=64):
        return [Doc.from_words(["Something", "else"]) for _ in gold]

    monkeypatch.setattr("elkit.cli.train.load", lambda model, **_: FakePipeline())
    monkeypatch.setattr("elkit.linking.EntityLinker", FakeLinker)
    monkeypatch.setattr("elkit.linking.link_gold_mentions", other_texts)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": "Paris is big", "spans": [{"start": 0, "end": 5, "label": "LOC",
                                                                     "kb_id": "Q90"}]}) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "evaluate", str(tmp_path / "model"), str(gold))
    assert code == 3
    assert "predicted and gold texts differ" in err and "Traceback" not in err
