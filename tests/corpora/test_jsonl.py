import io
import json

import pytest

from elkit.corpora import ReadReport, read_jsonl, write_jsonl
from elkit.errors import FormatError

TASK_WITH_TOKENS = {
    "text": "Ada Lovelace met Babbage.",
    "tokens": [
        {"text": "Ada", "start": 0, "end": 3, "id": 0, "ws": True},
        {"text": "Lovelace", "start": 4, "end": 12, "id": 1, "ws": True},
        {"text": "met", "start": 13, "end": 16, "id": 2, "ws": True},
        {"text": "Babbage", "start": 17, "end": 24, "id": 3, "ws": False},
        {"text": ".", "start": 24, "end": 25, "id": 4, "ws": False, "disabled": True},
    ],
    "spans": [
        {"start": 0, "end": 12, "token_start": 0, "token_end": 1, "label": "PER", "kb_id": "Q7259"},
        {"start": 17, "end": 24, "token_start": 3, "token_end": 3, "label": "PER", "kb_id": "NIL",
         "text": "Babbage", "source": "model"},
    ],
    "meta": {"id": 7},
    "answer": "accept",
    "_input_hash": 12345,
}
TASK_WITHOUT_TOKENS = {"text": "Paris, Texas is small.", "spans": [{"start": 0, "end": 5, "label": "LOC"}]}


def write(tmp_path, lines):
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_round_trip_is_lossless(tmp_path):
    path = write(tmp_path, [json.dumps(TASK_WITH_TOKENS), "", json.dumps(TASK_WITHOUT_TOKENS)])
    docs = list(read_jsonl(path))
    assert [(span.text, span.kb_id) for span in docs[0].ents] == [("Ada Lovelace", "Q7259"), ("Babbage", "NIL")]
    assert docs[0].ents[1].attrs == {"text": "Babbage", "source": "model"}
    output = io.StringIO()
    write_jsonl(docs, output)
    first, second = (json.loads(line) for line in output.getvalue().splitlines())
    assert first == TASK_WITH_TOKENS
    assert second == {"text": "Paris, Texas is small.",
                      "spans": [{"start": 0, "end": 5, "token_start": 0, "token_end": 0, "label": "LOC"}]}


def test_sentences_round_trip(tmp_path):
    task = {"text": "Ada met Babbage. He smiled.", "spans": [{"start": 0, "end": 3, "label": "PER"}],
            "sentences": [{"start": 0, "end": 16}, {"start": 17, "end": 27}]}
    (doc,) = read_jsonl(write(tmp_path, [json.dumps(task)]))
    assert [sentence.text for sentence in doc.sents] == ["Ada met Babbage.", "He smiled."]
    output = io.StringIO()
    write_jsonl([doc], output)
    written = json.loads(output.getvalue())
    assert written["sentences"] == [{"start": 0, "end": 16, "token_start": 0, "token_end": 3},
                                    {"start": 17, "end": 27, "token_start": 4, "token_end": 6}]
    (again,) = read_jsonl(write(tmp_path, [json.dumps(written)]))
    assert again.sentence_starts == doc.sentence_starts == [0, 4]
    (plain,) = read_jsonl(write(tmp_path, [json.dumps(TASK_WITHOUT_TOKENS)]))
    assert not plain.has_sentences  # nothing invented when the task has no sentences


@pytest.mark.parametrize(
    ("sentences", "field", "message"),
    [
        ([{"start": 0, "end": 6}], "sentences", "not at the last token"),
        ([{"start": 0, "end": 4}, {"start": 7, "end": 13}], "sentences[0]", "not the end of a token"),
        ([{"start": 0, "end": 5}, {"start": 10, "end": 13}], "sentences[1]", "should start at token 2"),
        ([{"start": 0, "end": 13, "token_end": 1}], "sentences[0]", "token_end"),
        ([{"start": 0, "end": 13, "label": "S"}], "sentences[0]", "unknown key"),
        ({"start": 0}, "sentences", "must be a list"),
        ([], "sentences", "empty"),
    ],
)
def test_bad_sentences_name_the_field(tmp_path, sentences, field, message):
    task = {"text": "ab cd. ef gh.", "tokens": [{"start": 0, "end": 2}, {"start": 3, "end": 5},
                                               {"start": 5, "end": 6}, {"start": 7, "end": 9},
                                               {"start": 10, "end": 12}, {"start": 12, "end": 13}],
            "sentences": sentences}
    with pytest.raises(FormatError, match=message) as error:
        list(read_jsonl(write(tmp_path, [json.dumps(task)])))
    assert error.value.field == field


def test_span_offsets_force_token_boundaries(tmp_path):
    task = {"text": "tumours and colitis", "spans": [{"start": 0, "end": 6, "label": "DISEASE"}]}
    (doc,) = read_jsonl(write(tmp_path, [json.dumps(task)]))
    assert doc.ents[0].text == "tumour" and doc.words[:2] == ["tumour", "s"]


@pytest.mark.parametrize(
    ("task", "field", "message"),
    [
        ({"spans": []}, "text", "missing"),
        ({"text": "abc", "spans": [{"start": 0, "end": 9, "label": "X"}]}, "spans[0]", "outside"),
        ({"text": "abc", "spans": [{"start": "0", "end": 2, "label": "X"}]}, "spans[0]", "integer"),
        ({"text": "ab cd", "spans": [{"start": 0, "end": 2, "label": "X", "text": "ab c"}]}, "spans[0]", "differs"),
        ({"text": "ab cd", "tokens": [{"text": "ab", "start": 0, "end": 2}], "spans": []}, "tokens", "in no token"),
        ({"text": "ab cd", "tokens": [{"text": "xx", "start": 0, "end": 2}], "spans": []}, "tokens[0]", "differs"),
        ({"text": "ab cd", "spans": [{"start": 0, "end": 2, "label": "X", "token_end": 1}]}, "spans[0]", "token_end"),
        ({"text": "ab cd", "spans": [{"start": 0, "end": 5, "label": "X"}, {"start": 3, "end": 5, "label": "Y"}]},
         "spans", "overlap"),
    ],
)
def test_bad_tasks_name_line_and_field(tmp_path, task, field, message):
    path = write(tmp_path, ["", json.dumps(task)])
    with pytest.raises(FormatError, match=message) as error:
        list(read_jsonl(path))
    assert error.value.line == 2 and error.value.field == field and str(path) in str(error.value)


def test_unknown_label_and_invalid_json(tmp_path):
    path = write(tmp_path, [json.dumps(TASK_WITHOUT_TOKENS)])
    with pytest.raises(FormatError, match="unknown label 'LOC'"):
        list(read_jsonl(path, labels={"PER"}))
    path = write(tmp_path, ['{"text": "a"', json.dumps(TASK_WITHOUT_TOKENS)])
    with pytest.raises(FormatError, match="invalid JSON") as error:
        list(read_jsonl(path))
    assert error.value.line == 1
    report = ReadReport()
    assert len(list(read_jsonl(path, on_error="skip", report=report))) == 1
    assert report.skipped_count == 1


def test_overlapping_spans_into_a_group(tmp_path):
    task = {"text": "New York City", "spans": [{"start": 0, "end": 13, "label": "LOC"},
                                               {"start": 0, "end": 8, "label": "LOC"}]}
    (doc,) = read_jsonl(write(tmp_path, [json.dumps(task)]), spans_key="sc")
    assert len(doc.spans["sc"]) == 2 and doc.ents == ()


def test_empty_and_huge_texts_are_errors(tmp_path):
    path = write(tmp_path, [json.dumps({"text": "  "})])
    with pytest.raises(FormatError, match="empty") as error:
        list(read_jsonl(path))
    assert error.value.field == "text" and error.value.line == 1
    path = write(tmp_path, [json.dumps({"text": "word " * 30})])
    with pytest.raises(FormatError, match="over the limit of 100"):
        list(read_jsonl(path, max_length=100))
