"""The dataset commands: db-in, db-out, stats, drop, data-to-spacy, train --dataset [--binary], train-curve."""

import json

import pytest

from elkit.annotate import Store
from elkit.cli.main import main
from tests.ner.support import SENTENCES

CONFIG = """
[nlp]
lang = "en"
pipeline = ["ner"]

[components.ner]
factory = "elkit.SpanNER.v1"
hidden_width = 32
learning_rate = 0.01

[components.ner.encoder]
architecture = "hash_cnn"
width = 32
depth = 1
embed_size = 500

[training]
seed = 0
batch_words = 40
max_epochs = 6
eval_frequency = 10
patience = 0
warmup_steps = 0
"""


def task_line(text, spans, answer="accept", view="spans", session=None):
    words = text.split(" ")
    tokens, position = [], 0
    for index, word in enumerate(words):
        tokens.append({"text": word, "start": position, "end": position + len(word), "id": index, "ws": True})
        position += len(word) + 1
    record = {"text": text, "tokens": tokens, "answer": answer, "_view_id": view,
              "spans": [{"start": tokens[first]["start"], "end": tokens[last - 1]["end"], "token_start": first,
                         "token_end": last - 1, "label": label} for first, last, label in spans]}
    if session:
        record["_session_id"] = session
    return json.dumps(record)


@pytest.fixture
def database(tmp_path):
    return str(tmp_path / "db.sqlite")


@pytest.fixture
def manual_file(tmp_path):
    path = tmp_path / "manual.jsonl"
    lines = [task_line(text, spans, session="news-alice") for text, spans in SENTENCES * 3]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_db_in_db_out_stats_drop(tmp_path, database, manual_file, capsys):
    assert main(["db-in", "news", str(manual_file), "--db", database]) == 0
    assert "imported 18 answers" in capsys.readouterr().out
    assert main(["stats", "--db", database]) == 0
    out = capsys.readouterr().out
    assert "news" in out and "alice" in out
    output = tmp_path / "out.jsonl"
    assert main(["db-out", "news", str(output), "--db", database]) == 0
    records = [json.loads(line) for line in output.read_text().splitlines()]
    # Identical texts give identical task hashes: 6 distinct examples from 18 lines.
    assert len(records) == 6 and all(record["_session_id"] == "news-alice" for record in records)
    assert main(["db-out", "news", str(tmp_path / "rejects.jsonl"), "--answer", "reject", "--db", database]) == 0
    assert (tmp_path / "rejects.jsonl").read_text() == ""
    assert main(["drop", "news", "--db", database]) == 0
    assert "dropped 'news' (6 answers)" in capsys.readouterr().out
    assert main(["drop", "news", "--db", database]) == 6


def test_db_in_bad_input_writes_nothing(tmp_path, database, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text(task_line("Apple is here", [(0, 1, "ORG")]) + "\n" + '{"text": "x", "spans": [{"start": 0}]}\n')
    assert main(["db-in", "news", str(path), "--db", database]) == 3
    assert "bad.jsonl:2 [spans[0]]" in capsys.readouterr().err
    assert "news" not in Store(database)
    path.write_bytes(b'{"text": "Apple"}\n{"text": "\xff"}\n')
    assert main(["db-in", "news", str(path), "--db", database]) == 3
    assert "bad.jsonl:2" in capsys.readouterr().err and "news" not in Store(database)


def test_train_from_datasets_with_binary_answers(tmp_path, database, manual_file, capsys):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    assert main(["db-in", "news", str(manual_file), "--db", database]) == 0
    teach = tmp_path / "teach.jsonl"
    teach.write_text(task_line("Berlin is big", [(0, 1, "LOC")], view="binary") + "\n"
                     + task_line("Berlin is big", [(2, 3, "LOC")], answer="reject", view="binary") + "\n")
    assert main(["db-in", "teach", str(teach), "--db", database]) == 0
    capsys.readouterr()
    code = main(["train", str(config), "--dataset", "news,teach", "--binary", "--output", str(tmp_path / "model"),
                 "--db", database])
    assert code == 0
    captured = capsys.readouterr()
    assert "ents_f:" in captured.out and "held out" in captured.err
    assert (tmp_path / "model" / "model-best").is_dir()
    assert main(["train", str(config), "--output", str(tmp_path / "none")]) == 2


def test_train_curve_and_data_to_spacy(tmp_path, database, manual_file, capsys):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    assert main(["db-in", "news", str(manual_file), "--db", database]) == 0
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(task_line(text, spans) for text, spans in SENTENCES * 2) + "\n", encoding="utf-8")
    code = main(["train-curve", str(config), "--train", str(train), "--dev", str(train), "--output",
                 str(tmp_path / "curve"), "--n-samples", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "50%" in out and "100%" in out
    points = json.loads((tmp_path / "curve" / "curve.json").read_text())
    assert [point["examples"] for point in points] == [6, 12]
    assert (tmp_path / "curve" / "curve.png").stat().st_size > 1000
    pytest.importorskip("spacy")
    assert main(["data-to-spacy", str(tmp_path / "spacy"), "--ner", "news", "--db", database]) == 0
    assert "wrote 5 training and 1 dev documents" in capsys.readouterr().out
    from elkit.corpora.docbin import read_docbin

    docs = list(read_docbin(tmp_path / "spacy" / "train.spacy"))
    assert len(docs) == 5 and sum(len(doc.ents) for doc in docs) >= 5
