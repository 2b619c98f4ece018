"""The server and its recipes, in-process: serving, checking answers, resuming, feed overlap, every recipe."""

import json

import pytest
from fastapi.testclient import TestClient

from elkit.annotate import Store
from elkit.annotate.controller import Controller
from elkit.annotate.recipes import el_manual, ner_correct, ner_manual, ner_teach, prefer_uncertain, review
from elkit.annotate.server import create_app
from elkit.errors import ConfigError, FormatError

from .support import TEXTS, trained_pipeline, write_entities, write_source


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "db.sqlite")


@pytest.fixture(scope="module")
def nlp():
    return trained_pipeline()


def client_for(recipe, store, **settings):
    return TestClient(create_app(Controller(recipe, store, **settings)), base_url="http://127.0.0.1")


def get_tasks(client, session="alice", count=None):
    body = {"session": session} if count is None else {"session": session, "count": count}
    response = client.post("/api/tasks", json=body)
    assert response.status_code == 200, response.text
    return response.json()["tasks"]


def answer(client, task, verdict="accept", session="alice", **fields):
    return client.post("/api/answers", json={"session": session, "answers": [
        {"task_hash": task["_task_hash"], "answer": verdict, **fields}]})


def test_ner_manual_serves_tokens_and_stores_checked_spans(tmp_path, store):
    client = client_for(ner_manual("news", write_source(tmp_path), ["ORG", "PER", "LOC"]), store)
    assert client.get("/api/config").json()["view"] == "spans"
    tasks = get_tasks(client, count=2)
    assert [task["text"] for task in tasks] == TEXTS[:2]
    first = tasks[0]
    paris = first["text"].index("Paris")
    response = answer(client, first, spans=[{"start": paris, "end": paris + 5, "label": "LOC"},
                                            {"start": 0, "end": 5, "label": "ORG"}])
    assert response.status_code == 200 and response.json()["saved"] == 1
    stored = store.answers("news")[0]
    assert [(span["start"], span["end"], span["label"], span["token_start"]) for span in stored["spans"]] == [
        (0, 5, "ORG", 0), (paris, paris + 5, "LOC", 5)]
    assert stored["_session_id"] == "alice" and stored["_view_id"] == "spans"


@pytest.mark.parametrize("spans, message", [
    ([{"start": 1, "end": 5, "label": "ORG"}], "token boundaries"),
    ([{"start": 0, "end": 500, "label": "ORG"}], "token boundaries"),
    ([{"start": 0, "end": 5, "label": "FOOD"}], "unknown label 'FOOD'"),
    ([{"start": 0, "end": 5, "label": "ORG"}, {"start": 0, "end": 12, "label": "ORG"}], "overlap"),
    ([{"start": "0", "end": 5, "label": "ORG"}], "integers"),
    ("nope", "must be a list"),
])
def test_forged_answers_get_400_and_nothing_is_written(tmp_path, store, spans, message):
    client = client_for(ner_manual("news", write_source(tmp_path), ["ORG"]), store)
    task = get_tasks(client)[0]
    response = answer(client, task, spans=spans)
    assert response.status_code == 400 and message in response.json()["detail"]
    assert store.count("news") == 0


def test_unknown_tasks_sessions_sizes_and_content_types(tmp_path, store):
    client = client_for(ner_manual("news", write_source(tmp_path), ["ORG"]), store)
    task = get_tasks(client)[0]
    assert answer(client, {"_task_hash": 12345}).status_code == 404
    # A task served to alice is unknown to bob.
    assert answer(client, task, session="bob", spans=[]).status_code == 404
    assert answer(client, task, verdict="maybe").status_code == 400
    assert client.post("/api/tasks", json={"session": "<script>"}).status_code == 400
    assert client.post("/api/tasks", json={"session": "alice", "extra": 1}).status_code == 422
    huge = json.dumps({"session": "alice", "answers": [{"task_hash": 1, "answer": "accept", "x": "y" * 2_000_000}]})
    assert client.post("/api/answers", content=huge, headers={"content-type": "application/json"}).status_code == 413
    assert client.post("/api/answers", content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
    assert client.get("/static/store.py").status_code == 404
    assert store.count("news") == 0
    page = client.get("/")
    assert "Content-Security-Policy" in page.headers and "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_answered_tasks_never_come_back_and_unanswered_ones_do(tmp_path, store):
    source = write_source(tmp_path)
    client = client_for(ner_manual("news", source, ["ORG"]), store)
    tasks = get_tasks(client, count=3)
    answer(client, tasks[0], spans=[])
    # Asking again (a page reload) gives the two unanswered tasks first, then new ones.
    again = get_tasks(client, count=3)
    assert [task["_task_hash"] for task in again] == [task["_task_hash"] for task in tasks[1:]] + [
        again[2]["_task_hash"]]
    assert again[2]["text"] == TEXTS[3]
    # A restart (a new controller on the same database) resumes at the first unanswered task.
    restarted = client_for(ner_manual("news", source, ["ORG"]), store)
    assert get_tasks(restarted, count=1)[0]["text"] == TEXTS[1]
    # Another session starts from the beginning (feed overlap is on by default).
    assert get_tasks(restarted, session="bob", count=1)[0]["text"] == TEXTS[0]


def test_history_edits_replace_the_answer(tmp_path, store):
    client = client_for(ner_manual("news", write_source(tmp_path), ["ORG"]), store)
    task = get_tasks(client)[0]
    answer(client, task, spans=[])
    answer(client, task, spans=[{"start": 0, "end": 5, "label": "ORG"}])
    assert store.count("news") == 1 and store.answers("news")[0]["spans"][0]["text"] == "Apple"
    history = client.get("/api/history", params={"session": "alice"}).json()["answers"]
    assert history[0]["_task_hash"] == task["_task_hash"]
    # After a restart the stored answer can still be changed.
    restarted = client_for(ner_manual("news", write_source(tmp_path), ["ORG"]), store)
    assert answer(restarted, task, verdict="ignore").status_code == 200
    assert store.count("news") == 1 and store.answers("news")[0]["answer"] == "ignore"


def test_without_overlap_each_task_goes_to_one_session(tmp_path, store):
    client = client_for(ner_manual("news", write_source(tmp_path), ["ORG"]), store, overlap=False)
    alice = get_tasks(client, count=2)
    bob = get_tasks(client, session="bob", count=2)
    assert {task["text"] for task in alice}.isdisjoint(task["text"] for task in bob)
    assert [task["text"] for task in bob] == TEXTS[2:4]


def test_patterns_prehighlight_and_bad_sources_stop_early(tmp_path, store):
    patterns = tmp_path / "patterns.jsonl"
    patterns.write_text(json.dumps({"label": "ORG", "pattern": "Google"}) + "\n", encoding="utf-8")
    client = client_for(ner_manual("news", write_source(tmp_path), ["PER"], patterns=patterns), store)
    assert client.get("/api/config").json()["labels"] == ["PER", "ORG"]
    google = get_tasks(client, count=3)[2]
    assert [(span["label"], google["text"][span["start"]:span["end"]]) for span in google["spans"]] == [
        ("ORG", "Google")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(FormatError, match=r"bad.jsonl:2 \[text\]"):
        ner_manual("news", bad, ["ORG"])
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(json.dumps({"text": "Apple", "spans": [{"start": 0, "end": 5, "label": "FRUIT"}]}) + "\n")
    with pytest.raises(FormatError, match="unknown label 'FRUIT'"):
        ner_manual("news", labelled, ["ORG"])
    with pytest.raises(ConfigError, match="at least one --label"):
        ner_manual("news", write_source(tmp_path), [])


def test_ner_correct_prefills_the_models_entities(tmp_path, store, nlp):
    source = write_source(tmp_path, ["Apple bought Beats in California ."])
    client = client_for(ner_correct("news", source, None, nlp=nlp), store)
    task = get_tasks(client)[0]
    assert [(span["label"], task["text"][span["start"]:span["end"]]) for span in task["spans"]] == [
        ("ORG", "Apple"), ("ORG", "Beats"), ("LOC", "California")]
    assert answer(client, task, spans=task["spans"][:2]).status_code == 200
    with pytest.raises(ConfigError, match="does not predict FOOD"):
        ner_correct("news", source, None, ["FOOD"], nlp=nlp)


def test_ner_teach_asks_about_single_spans_and_updates_the_model(tmp_path, store):
    nlp = trained_pipeline(steps=15)
    source = write_source(tmp_path, ["Apple bought Beats in California .", "Tim Cook runs Apple from Cupertino ."])
    recipe = ner_teach("teach", source, None, nlp=nlp, sort=False)
    controller = Controller(recipe, store)
    client = TestClient(create_app(controller), base_url="http://127.0.0.1")
    assert client.get("/api/config").json()["view"] == "binary"
    tasks = get_tasks(client, count=4)
    assert tasks and all(len(task["spans"]) == 1 and "score" in task["meta"] for task in tasks)
    before = {name: tensor.clone() for name, tensor in nlp.get_pipe("ner").model.state_dict().items()}
    assert answer(client, tasks[0], verdict="accept").status_code == 200
    assert answer(client, tasks[1], verdict="reject").status_code == 200
    # A binary answer cannot smuggle in edited spans.
    assert answer(client, tasks[2], spans=[{"start": 0, "end": 5, "label": "ORG"}]).status_code == 400
    controller.wait_for_updates()  # the model learns in the background, after the answers are acknowledged
    after = nlp.get_pipe("ner").model.state_dict()
    assert any(not before[name].equal(after[name]) for name in before)
    assert recipe.stats["teacher"].updates == 2
    assert [row["answer"] for row in store.answers("teach")] == ["accept", "reject"]


def test_prefer_uncertain_keeps_the_uncertain_ones():
    scored = [(probability, {"id": index}) for index, probability in enumerate([0.5, 0.99, 0.01, 0.45, 0.98, 0.6])]
    kept = [task["id"] for task in prefer_uncertain(scored)]
    assert 0 in kept and 3 in kept and 1 not in kept and 2 not in kept and 4 not in kept


def test_el_manual_offers_candidates_search_and_checks_the_choice(tmp_path, store):
    source = tmp_path / "mentions.jsonl"
    text = "Paris is the capital of France."
    source.write_text(json.dumps({"text": text, "spans": [{"start": 0, "end": 5, "label": "LOC"}]}) + "\n")
    recipe = el_manual("links", source, kb=write_entities(tmp_path), cache_dir=tmp_path / "cache")
    client = client_for(recipe, store)
    assert client.get("/api/config").json()["view"] == "choice"
    task = get_tasks(client)[0]
    ids = [option["id"] for option in task["options"]]
    assert "Q90" in ids and "Q830149" in ids and ids[-1] == "NIL"
    found = client.get("/api/search", params={"q": "Ada Lovelace"}).json()["entities"]
    assert found[0]["id"] == "Q7259" and found[0]["description"] == "English mathematician <b>&</b> writer"
    assert answer(client, task, accept=["Q999"]).status_code == 400
    assert answer(client, task, accept=["Q90", "Q830149"]).status_code == 400
    assert store.count("links") == 0
    # An entity found by search (not among the options) is accepted because the KB holds it.
    assert answer(client, task, accept=["Q7259"]).status_code == 200
    assert answer(client, task, accept=["Q90"]).status_code == 200
    stored = store.answers("links")
    assert len(stored) == 1 and stored[0]["accept"] == ["Q90"] and stored[0]["spans"][0]["kb_id"] == "Q90"


def test_review_shows_versions_and_stores_the_settled_one(tmp_path, store):
    source = write_source(tmp_path, ["Apple opened a store in Paris."])
    first = client_for(ner_manual("news", source, ["ORG", "LOC"]), store)
    task = get_tasks(first)[0]
    answer(first, task, spans=[{"start": 0, "end": 5, "label": "ORG"}])
    task = get_tasks(first, session="bob")[0]
    answer(first, task, session="bob", spans=[{"start": 0, "end": 5, "label": "LOC"}])
    reviewer = client_for(review("news_reviewed", ["news"], store), store)
    assert reviewer.get("/api/config").json()["view"] == "review"
    merged = get_tasks(reviewer, session="carol")
    assert len(merged) == 1 and len(merged[0]["versions"]) == 2
    assert sorted(session for version in merged[0]["versions"] for session in version["sessions"]) == ["alice", "bob"]
    settled_spans = [{"start": 0, "end": 5, "label": "ORG"}]
    assert answer(reviewer, merged[0], session="carol", spans=settled_spans).status_code == 200
    settled = store.answers("news_reviewed")[0]
    assert settled["spans"][0]["label"] == "ORG" and "versions" not in settled
    with pytest.raises(ConfigError, match="no dataset 'missing'"):
        review("out", ["missing"], store)
