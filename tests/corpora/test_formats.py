import json

import pytest

from elkit.corpora import corpus_stats, detect_format, read_corpus
from elkit.corpora.formats import write_corpus
from elkit.errors import ConfigError, FormatError
from tests.corpora.test_aida import AIDA
from tests.corpora.test_conll import CONLL_IOB2, TWO_COLUMNS
from tests.corpora.test_pubtator import PUBTATOR


@pytest.mark.parametrize(
    ("content", "expected"),
    [(CONLL_IOB2, "conll"), (TWO_COLUMNS, "conll"), (PUBTATOR, "pubtator"), (AIDA, "aida"),
     (AIDA.split("\n", 1)[1], "aida"), ('{"text": "a"}\n', "jsonl")],
)
def test_detect_format_from_content(tmp_path, content, expected):
    path = tmp_path / "corpus.txt"
    path.write_text(content, encoding="utf-8")
    assert detect_format(path) == expected


def test_detect_format_failures(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(FormatError, match="empty"):
        detect_format(empty)
    prose = tmp_path / "prose.txt"
    prose.write_text("Just some words here.\n", encoding="utf-8")
    with pytest.raises(FormatError, match="cannot tell the format"):
        detect_format(prose)
    with pytest.raises(FormatError, match="cannot open"):
        detect_format(tmp_path / "missing.txt")


def test_stats_count_everything(tmp_path):
    path = tmp_path / "aida.tsv"
    path.write_text(AIDA, encoding="utf-8")
    stats = corpus_stats(read_corpus(path))
    assert stats.to_dict() == {"documents": 2, "sentences": 4, "tokens": 11, "entities": 5,
                               "labels": {"ENTITY": 5}, "linked": 3, "nil": 2, "unlinked": 0}


@pytest.mark.parametrize("target", ["jsonl", "docbin", "conll", "pubtator", "aida"])
def test_convert_between_formats_keeps_entities(tmp_path, target):
    if target == "docbin":
        pytest.importorskip("spacy")
    source = tmp_path / "in.conll"
    source.write_text(CONLL_IOB2, encoding="utf-8")
    output = tmp_path / f"out.{target}"
    write_corpus(read_corpus(source), output, target)
    docs = list(read_corpus(output, target))
    expected = [(span.text, span.label) for doc in read_corpus(source) for span in doc.ents]
    if target == "aida":  # AIDA has no entity types
        expected = [(text, "ENTITY") for text, _ in expected]
    assert [(span.text, span.label) for doc in docs for span in doc.ents] == expected
    if target != "pubtator":  # PubTator has a title and an abstract, no sentences
        sentences = [[sentence.text for sentence in doc.sents] for doc in read_corpus(source)]
        assert [[sentence.text for sentence in doc.sents] for doc in docs] == sentences
        assert corpus_stats(docs).sentences == corpus_stats(read_corpus(source)).sentences > len(docs)


def test_unknown_format():
    with pytest.raises(ConfigError, match="unknown corpus format"):
        read_corpus("x", "xml")
    with pytest.raises(ConfigError, match="unknown corpus format"):
        write_corpus([], "x", "xml")


def test_jsonl_spans_without_label_survive(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"text": "a b", "spans": [{"start": 0, "end": 1}]}) + "\n", encoding="utf-8")
    (doc,) = read_corpus(path)
    assert doc.ents[0].label == ""
