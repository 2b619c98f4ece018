"""``elkit info`` and ``elkit init config``: the written configs load and train."""

import json

from elkit.cli.main import main
from elkit.config import load_config
from elkit.corpora import read_corpus
from elkit.training import train
from tests.ner.test_training import conll_text


def test_info_lists_versions_and_a_models_components(tmp_path, capsys):
    assert main(["info"]) == 0
    shown = capsys.readouterr().out
    assert "elkit" in shown and "torch" in shown and "optional parts" in shown
    from tests.ner.test_span_ner import trained

    nlp, _, _ = trained(steps=5)
    nlp.to_disk(tmp_path / "model")
    assert main(["info", str(tmp_path / "model")]) == 0
    shown = capsys.readouterr().out
    assert "components ner" in shown and "labels: ORG, LOC, PER" in shown


def test_init_config_writes_configs_that_train(tmp_path, capsys):
    for optimize in ("speed", "accuracy"):
        target = tmp_path / f"ner-{optimize}.toml"
        assert main(["init", "config", str(target), "--pipeline", "ner", "--optimize", optimize]) == 0
        config = load_config(target)
        assert config.components["ner"].factory == "elkit.SpanNER.v1"
    corpus = tmp_path / "train.conll"
    corpus.write_text(conll_text(), encoding="utf-8")
    docs = list(read_corpus(corpus))
    _, result = train(tmp_path / "ner-speed.toml", docs, docs, None,
                      overrides={"training.max_steps": 30, "training.eval_frequency": 15, "training.batch_words": 20})
    assert result.steps == 30 and result.history
    entities = tmp_path / "entities.jsonl"
    entities.write_text(json.dumps({"entity_id": "Q90", "label": "Paris"}) + "\n", encoding="utf-8")
    target = tmp_path / "linker.toml"
    assert main(["init", "config", str(target), "--pipeline", "linker", "--entities", str(entities)]) == 0
    linker = load_config(target).components["entity_linker"]
    assert linker.factory == "elkit.EntityLinker.v1"
    assert linker.settings["kb"] == {"path": "models/kb/entities", "entities": [entities.as_posix()]}
    assert main(["init", "config", str(target), "--pipeline", "linker"]) != 0  # exists: --force replaces it
    assert main(["init", "config", str(tmp_path / "x.toml"), "--pipeline", "ner,linker"]) != 0
    assert "create_simple" in capsys.readouterr().err


def test_debug_data_reports_what_would_hurt_training(tmp_path, capsys):
    config = tmp_path / "ner.toml"
    assert main(["init", "config", str(config), "--pipeline", "ner"]) == 0
    train_file = tmp_path / "train.conll"
    train_file.write_text(conll_text(), encoding="utf-8")
    assert main(["debug", "data", str(config), "--train", str(train_file), "--dev", str(train_file)]) == 1
    shown = capsys.readouterr().out
    assert "dev documents also appear in train" in shown and "entities per label" in shown
    dev = tmp_path / "dev.jsonl"
    records = [{"text": "Ada Lovelace met Charles Babbage", "spans": [{"start": 0, "end": 12, "label": "PER"},
                                                                        {"start": 17, "end": 32, "label": "PERSON"}]}]
    dev.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    assert main(["debug", "data", str(config), "--train", str(train_file), "--dev", str(dev), "--json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["only_in_dev"] == ["PERSON"] and found["shared_texts"] == 0
    assert found["train"]["labels"] == {"LOC": 5, "ORG": 5, "PER": 3} and found["dev"]["entities"] == 2
    assert found["problems"] == ["dev has labels training never shows: PERSON"]


def test_check_data_finds_crossing_long_and_unknown():
    from elkit.corpora.checks import check_data
    from elkit.doc import Doc

    doc = Doc.from_words("Paris is big . Berlin Wall fell down on that day".split())
    doc.set_sentence_starts([0, 4])
    doc.ents = [doc.span(2, 5, "LOC", "Q1"), doc.span(5, 10, "EVENT", "NIL")]
    found = check_data([doc], [doc], max_width=4, known_id=lambda entity_id: entity_id != "Q1")
    assert found.train.crossing == 1 and found.train.too_long == 1 and found.train.unknown_ids == 1
    assert found.train.nil == 1 and found.train.examples["crossing"] == ["document 1: 'big . Berlin' (LOC)"]
