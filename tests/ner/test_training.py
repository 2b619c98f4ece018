"""The training loop and the train / evaluate / vectors commands, on a tiny CoNLL corpus written here."""

import json

import pytest

from elkit.cli.main import main
from elkit.corpora import read_corpus
from elkit.doc import Doc
from elkit.errors import DataError
from elkit.packaging import load
from elkit.training import split_sentences, train
from tests.ner.support import SENTENCES, tiny_transformer

CONFIG = """
[nlp]
pipeline = ["ner"]

[components.ner]
factory = "elkit.SpanNER.v1"
hidden_width = 32
seed = 3
learning_rate = 0.01

[components.ner.encoder]
architecture = "hash_cnn"
width = 32
depth = 2
embed_size = 500

[training]
seed = 3
batch_words = 20
max_epochs = 40
eval_frequency = 20
patience = 0
warmup_steps = 2
"""


def conll_text() -> str:
    lines = ["-DOCSTART- -X- -X- O", ""]
    for text, spans in SENTENCES:
        words = text.split()
        tags = ["O"] * len(words)
        for start, end, label in spans:
            for index in range(start, end):
                tags[index] = ("B-" if index == start else "I-") + label
        lines += [f"{word} NN O {tag}" for word, tag in zip(words, tags, strict=True)] + [""]
    return "\n".join(lines) + "\n"


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text(conll_text(), encoding="utf-8")
    config = tmp_path / "ner.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return path, config


def test_train_saves_best_and_last_and_is_reproducible(corpus, tmp_path):
    path, config = corpus
    docs = list(read_corpus(path))
    first, result = train(config, docs, docs, tmp_path / "run1")
    assert (tmp_path / "run1" / "model-best" / "ner" / "weights.safetensors").is_file()
    assert (tmp_path / "run1" / "model-last" / "manifest.json").is_file()
    record = json.loads((tmp_path / "run1" / "training.json").read_text())
    assert record["best_score"] == result.best_score > 0.8
    assert [entry["step"] for entry in record["history"]][:2] == [20, 40]
    second, again = train(config, docs, docs, tmp_path / "run2")
    assert again.best_score == result.best_score and again.best_step == result.best_step
    text = "Tim Cook runs Apple from Cupertino ."
    assert [(span.text, span.label) for span in first(text).ents] == [(span.text, span.label)
                                                                       for span in second(text).ents]


def test_train_continues_from_a_base_model_with_a_new_label(corpus, tmp_path):
    path, config = corpus
    docs = list(read_corpus(path))
    train(config, docs, docs, tmp_path / "base")
    extra = Doc.from_words("the iPhone sold well".split())
    extra.ents = [extra.span(1, 2, "PRODUCT")]
    nlp, _ = train(config, [*docs, extra], docs, None, base_model=tmp_path / "base" / "model-best")
    assert "PRODUCT" in nlp.get_pipe("ner").labels


def test_training_from_a_base_never_ends_below_it_and_rehearses(corpus, tmp_path, capsys):
    path, config = corpus
    docs = list(read_corpus(path))
    train(config, docs, docs, tmp_path / "base")
    base_score = json.loads((tmp_path / "base" / "training.json").read_text())["best_score"]
    wrong = []  # five documents whose every entity carries a wrong label: training on them alone hurts
    for doc in docs[:5]:
        copy = Doc.from_words(doc.words)
        copy.ents = [span.replace(doc=copy, label="MISC") for span in doc.ents]
        wrong.append(copy)
    nlp, result = train(config, wrong, docs, tmp_path / "worse", base_model=tmp_path / "base" / "model-best")
    assert result.history[0]["step"] == 0 and result.history[0]["base"]
    assert result.history[0]["ents_f"] == pytest.approx(base_score)
    assert result.best_score >= base_score and min(record["ents_f"] for record in result.history) < base_score
    text = "Tim Cook runs Apple from Cupertino ."
    base = load(tmp_path / "base" / "model-best")
    assert [(span.text, span.label) for span in nlp(text).ents] == [(span.text, span.label) for span in base(text).ents]
    texts = tmp_path / "raw.txt"
    texts.write_text("\n".join(text for text, _ in SENTENCES) + "\n", encoding="utf-8")
    code = main(["train", str(config), "--train", str(path), "--dev", str(path), "--output", str(tmp_path / "cli"),
                 "--base-model", str(tmp_path / "base" / "model-best"), "--rehearse", str(texts)])
    assert code == 0
    history = json.loads((tmp_path / "cli" / "training.json").read_text())["history"]
    assert history[0]["base"] and any("rehearse_ner" in record["losses"] for record in history[1:])
    assert "base model: dev F1" in capsys.readouterr().err
    code = main(["train", str(config), "--train", str(path), "--dev", str(path), "--output", str(tmp_path / "x"),
                 "--rehearse", str(texts)])
    assert code != 0 and "--base-model" in capsys.readouterr().err


def test_split_sentences_keeps_entities_and_rejects_crossing_ones():
    doc = Doc.from_words("Paris is nice . Berlin too .".split())
    doc.set_sentence_starts([0, 4])
    doc.ents = [doc.span(0, 1, "LOC"), doc.span(4, 5, "LOC")]
    pieces = split_sentences(doc)
    assert [piece.text for piece in pieces] == ["Paris is nice .", "Berlin too ."]
    assert [[(span.text, span.label) for span in piece.ents] for piece in pieces] == [[("Paris", "LOC")],
                                                                                      [("Berlin", "LOC")]]
    doc.ents = [doc.span(3, 5, "LOC")]
    with pytest.raises(DataError, match="crosses a sentence boundary"):
        split_sentences(doc)


def test_cli_train_and_evaluate(corpus, tmp_path, capsys):
    path, config = corpus
    output = tmp_path / "model"
    assert main(["train", str(config), "--train", str(path), "--dev", str(path), "--output", str(output),
                 "--set", "training.max_epochs=20"]) == 0
    assert "ents_f:" in capsys.readouterr().out
    scores = tmp_path / "scores.json"
    assert main(["evaluate", str(output / "model-best"), str(path), "--output", str(scores)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines[-3:]] == ["ents_p", "ents_r", "ents_f"]
    assert all(0.0 <= float(line.split(": ")[1]) <= 1.0 for line in lines[-3:])
    data = json.loads(scores.read_text())
    assert set(data["ents_per_type"]) >= {"PER", "ORG", "LOC"} and data["words_per_second"] > 0
    assert load(output / "model-best").pipe_names == ["ner"]


def test_cli_train_reports_bad_data_and_config(corpus, tmp_path, capsys):
    path, config = corpus
    bad = tmp_path / "bad.conll"
    bad.write_text("Paris NN O B-LOC\nis NN O\n", encoding="utf-8")
    code = main(["train", str(config), "--train", str(bad), "--dev", str(path), "--output", str(tmp_path / "m")])
    assert code == 3 and "bad.conll:2" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text(CONFIG.replace('factory = "elkit.SpanNER.v1"', 'factory = "elkit.SpanNR.v1"'))
    code = main(["train", str(broken), "--train", str(path), "--dev", str(path), "--output", str(tmp_path / "m")])
    assert code == 2 and "elkit.SpanNER.v1" in capsys.readouterr().err
    typed = tmp_path / "typed.toml"
    typed.write_text(CONFIG.replace("hidden_width = 32", 'hidden_width = "wide"'))
    code = main(["train", str(typed), "--train", str(path), "--dev", str(path), "--output", str(tmp_path / "m")])
    assert code == 2 and "hidden_width" in capsys.readouterr().err


def test_cli_vectors_distill(corpus, tmp_path, capsys):
    path, _ = corpus
    model = tiny_transformer(tmp_path / "bert")
    output = tmp_path / "vectors"
    assert main(["vectors", "distill", str(output), "--corpus", str(path), "--model", str(model),
                 "--no-model-vocabulary"]) == 0
    assert "vectors of width 32" in capsys.readouterr().out
    words = (output / "words.txt").read_text().split("\n")
    assert "paris" in words and "cupertino" in words
