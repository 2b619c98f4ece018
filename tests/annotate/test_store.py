"""The answer store, hashes, and moving data in and out (db-in / db-out / training material)."""

import io
import json

import pytest

from elkit.annotate import Store, input_hash, set_hashes, task_hash
from elkit.annotate.data import export_answers, import_answers, load_examples, read_answers_file
from elkit.errors import DataError, FormatError, StoreError


def answered(text, spans=(), answer="accept", view="spans"):
    tokens = []
    position = 0
    for index, word in enumerate(text.split(" ")):
        tokens.append({"text": word, "start": position, "end": position + len(word), "id": index, "ws": True})
        position += len(word) + 1
    task = {"text": text, "tokens": tokens, "answer": answer, "_view_id": view, "spans": [
        {"start": tokens[first]["start"], "end": tokens[last]["end"], "token_start": first, "token_end": last,
         "label": label} for first, last, label in spans]}
    return task


def test_hashes_are_stable_signed_32_bit_and_depend_on_the_question():
    task = {"text": "Apple is here", "spans": [{"start": 0, "end": 5, "label": "ORG"}]}
    assert input_hash(task) == input_hash({"text": "Apple is here"})
    assert task_hash(task) != task_hash({**task, "spans": [{"start": 0, "end": 5, "label": "PER"}]})
    assert -(2 ** 31) <= task_hash(task) < 2 ** 31
    assert set_hashes(dict(task))["_task_hash"] == task_hash(task)
    # Keys that are not part of the question (meta, tokens) do not change the hash.
    assert task_hash({**task, "meta": {"a": 1}}) == task_hash(task)


def test_add_replace_and_read_back(database_url):
    store = Store(database_url)
    first = answered("Apple is here", [(0, 0, "ORG")])
    assert store.add_answers("news", [first, answered("Paris is big", [(0, 0, "LOC")])], session_id="alice") == 2
    # The same task again in the same session replaces the answer; in another session it is a new example.
    assert store.add_answers("news", [{**first, "answer": "reject"}], session_id="alice") == 0
    assert store.add_answers("news", [first], session_id="bob") == 1
    rows = store.answers("news")
    assert [(row["_session_id"], row["answer"]) for row in rows] == [("alice", "reject"), ("alice", "accept"),
                                                                     ("bob", "accept")]
    assert store.count("news") == 3 and store.count("news", "bob") == 1
    assert store.answered("news", "alice") == {rows[0]["_task_hash"], rows[1]["_task_hash"]}
    stats = store.stats("news")
    assert (stats["examples"], stats["inputs"], stats["accept"], stats["reject"]) == (3, 2, 2, 1)
    assert stats["sessions"] == ["alice", "bob"]
    # A second Store on the same file sees everything (it is on disk, committed).
    assert Store(database_url).count("news") == 3
    assert store.drop_dataset("news") == 3
    assert "news" not in store and store.datasets() == []


def test_duplicate_tasks_in_one_batch_are_stored_once(database_url):
    store = Store(database_url)
    task = answered("Apple is here", [(0, 0, "ORG")])
    assert store.add_answers("news", [task, task], session_id="alice") == 1
    assert store.count("news") == 1


def test_bad_answers_and_unknown_datasets(database_url):
    store = Store(database_url)
    with pytest.raises(DataError, match="answer must be one of"):
        store.add_answers("news", [answered("Apple", answer="maybe")])
    assert store.count("news") == 0
    with pytest.raises(StoreError, match="no dataset 'missing'"):
        store.stats("missing")
    with pytest.raises(DataError, match="dataset name"):
        store.add_dataset(" padded ")


def test_store_error_for_an_unusable_database(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(blocker / "db.sqlite")


def test_prodigy_round_trip(tmp_path, database_url, other_database_url):
    store = Store(database_url)
    store.add_answers("news", [answered("Apple is here", [(0, 0, "ORG")])], session_id="alice")
    buffer = io.StringIO()
    assert export_answers(store, "news", buffer) == 1
    record = json.loads(buffer.getvalue())
    assert record["_session_id"] == "news-alice" and record["answer"] == "accept"
    assert {"text", "tokens", "spans", "_input_hash", "_task_hash"} <= set(record)
    path = tmp_path / "out.jsonl"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    other = Store(other_database_url)
    assert import_answers(other, "news", read_answers_file(path)) == 1
    back = other.answers("news")[0]
    assert back["_session_id"] == "alice" and back["_task_hash"] == record["_task_hash"]
    assert back["spans"] == record["spans"]


def test_db_in_checks_every_line_and_adds_tokens(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"text": "Apple is here", "spans": [{"start": 0, "end": 5, "label": "ORG"}]}) + "\n"
                    + json.dumps({"text": "Paris", "answer": "reject"}) + "\n", encoding="utf-8")
    tasks = read_answers_file(path)
    assert tasks[0]["answer"] == "accept" and tasks[0]["tokens"][0]["text"] == "Apple"
    assert tasks[0]["spans"][0]["token_end"] == 0 and tasks[1]["answer"] == "reject"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "Apple is here"}) + "\n{broken\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"bad.jsonl:2"):
        read_answers_file(bad)
    tokens = [{"text": "Apple", "start": 0, "end": 5, "id": 0, "ws": False}]
    bad.write_text(json.dumps({"text": "Apple", "tokens": tokens, "spans": [{"start": 1, "end": 3, "label": "ORG"}]})
                   + "\n")
    with pytest.raises(FormatError, match=r"bad.jsonl:1 \[spans\[0\]\]"):
        read_answers_file(bad)
    bad.write_text(json.dumps({"text": "Apple", "answer": "yes"}) + "\n")
    with pytest.raises(FormatError, match=r"\[answer\]"):
        read_answers_file(bad)
    bad.write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(FormatError, match="UTF-8"):
        read_answers_file(bad)


def test_training_material_from_manual_and_binary_answers(database_url):
    store = Store(database_url)
    store.add_answers("manual", [answered("Apple is here", [(0, 0, "ORG")]),
                                 answered("Paris is big", [(0, 0, "LOC")], answer="reject"),
                                 answered("Nothing here", [], answer="ignore")], session_id="a")
    store.add_answers("teach", [answered("Berlin is old", [(0, 0, "LOC")], view="binary"),
                                answered("Berlin is old", [(2, 2, "LOC")], answer="reject", view="binary")],
                      session_id="a")
    without = load_examples(store, ["manual", "teach"])
    assert [doc.text for doc in without.complete] == ["Apple is here"] and not without.partial
    assert without.skipped["binary answers (train with --binary to use them)"] == 2
    data = load_examples(store, ["manual", "teach"], binary=True)
    assert len(data.partial) == 1
    example = data.partial[0]
    assert not example.complete
    assert [(answer.start, answer.end, answer.label, answer.accept) for answer in example.answers] == [
        (0, 1, "LOC", True), (2, 3, "LOC", False)]
    assert [(span.text, span.label) for span in data.complete[0].ents] == [("Apple", "ORG")]
