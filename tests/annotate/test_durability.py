"""A real server killed with SIGKILL mid-stream (SQLite and PostgreSQL), and 20 concurrent sessions under load."""

import statistics
import threading
import time

import httpx
import pytest

from elkit.annotate import Store

from .support import ServerProcess, write_source

TEXTS = [f"Text number {index} mentions Apple and Paris." for index in range(300)]


def answer_stream(client, session, acknowledged, stop, limit=None, timings=None):
    """Fetch tasks and answer them one by one; record each acknowledged task hash."""
    answered = 0
    while not stop.is_set() and (limit is None or answered < limit):
        started = time.perf_counter()
        response = client.post("/api/tasks", json={"session": session, "count": 10})
        if timings is not None:
            timings["fetch"].append(time.perf_counter() - started)
        response.raise_for_status()
        tasks = response.json()["tasks"]
        if not tasks:
            return answered
        for task in tasks:
            if stop.is_set() or (limit is not None and answered >= limit):
                return answered
            start = task["text"].index("Apple")
            body = {"session": session, "answers": [{"task_hash": task["_task_hash"], "answer": "accept",
                                                     "spans": [{"start": start, "end": start + 5, "label": "ORG"}]}]}
            started = time.perf_counter()
            response = client.post("/api/answers", json=body)
            if timings is not None:
                timings["save"].append(time.perf_counter() - started)
            response.raise_for_status()
            acknowledged.append(task["_task_hash"])
            answered += 1
    return answered


def test_sigkill_mid_stream_loses_no_acknowledged_answer_and_resumes(tmp_path, database_url):
    source = write_source(tmp_path, TEXTS[:80])
    database = database_url  # SQLite and the PostgreSQL server
    arguments = ["ner.manual", "news", str(source), "--label", "ORG", "--db", str(database)]
    server = ServerProcess(arguments, tmp_path)
    acknowledged: list[int] = []
    stop = threading.Event()

    def killer():
        while len(acknowledged) < 25:
            time.sleep(0.001)
        server.kill()  # the client is sending answers continuously: the kill lands mid-stream
        stop.set()

    thread = threading.Thread(target=killer)
    thread.start()
    with httpx.Client(base_url=server.url, timeout=120) as client, pytest.raises(httpx.HTTPError):
        answer_stream(client, "alice", acknowledged, threading.Event())
    thread.join()
    server.stop()
    assert len(acknowledged) >= 25
    store = Store(database)
    stored = store.answers("news")
    hashes = [task["_task_hash"] for task in stored]
    assert set(acknowledged) <= set(hashes), "an acknowledged answer was lost"
    assert len(hashes) == len(set(hashes)), "an answer was stored twice"
    # At most the one answer in flight at the kill is stored without the client having seen the acknowledgement.
    assert len(hashes) - len(acknowledged) <= 1
    answered_texts = {task["text"] for task in stored}
    expected_next = next(text for text in TEXTS[:80] if text not in answered_texts)

    restarted = ServerProcess(arguments, tmp_path)
    try:
        with httpx.Client(base_url=restarted.url, timeout=120) as client:  # hang guard
            first = client.post("/api/tasks", json={"session": "alice", "count": 1}).json()["tasks"][0]
            assert first["text"] == expected_next, "the stream did not resume at the first unanswered task"
            more: list[int] = []
            answer_stream(client, "alice", more, threading.Event())
    finally:
        restarted.stop()
    final = Store(database).answers("news")
    assert len(final) == 80 and len({task["_task_hash"] for task in final}) == 80
    # Everything stored before the kill (the acknowledged answers, and at most one in flight that was stored but
    # never acknowledged) plus what the resumed stream answered is the whole dataset, nothing twice.
    assert set(hashes) | set(more) == {task["_task_hash"] for task in final}
    assert not set(hashes) & set(more)


def test_twenty_sessions_save_five_thousand_answers(tmp_path):
    sessions, per_session = 20, 250
    source = write_source(tmp_path, TEXTS[:per_session])
    database = tmp_path / "db.sqlite"
    server = ServerProcess(["ner.manual", "news", str(source), "--label", "ORG", "--db", str(database)], tmp_path)
    timings: dict[str, list[float]] = {"fetch": [], "save": []}
    acknowledged: list[int] = []
    errors: list[BaseException] = []

    def annotator(number):
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                mine: list[int] = []
                answer_stream(client, f"annotator{number}", mine, threading.Event(), per_session, timings)
                acknowledged.extend(mine)
        except BaseException as error:
            errors.append(error)

    started = time.perf_counter()
    threads = [threading.Thread(target=annotator, args=(number,)) for number in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    server.stop()
    assert not errors, errors[:3]
    store = Store(database)
    assert len(acknowledged) == sessions * per_session == store.count("news")
    assert len(store.stats("news")["sessions"]) == sessions

    def percentile(values, share):
        return statistics.quantiles(values, n=100)[share - 1] * 1000

    report = (f"load: {sessions} sessions, {len(acknowledged):,} answers in {seconds:.1f} s "
              f"({len(acknowledged) / seconds:,.0f} answers/s); fetch p50 {percentile(timings['fetch'], 50):.1f} ms "
              f"p99 {percentile(timings['fetch'], 99):.1f} ms; save p50 {percentile(timings['save'], 50):.1f} ms "
              f"p99 {percentile(timings['save'], 99):.1f} ms")
    print(report)
    (tmp_path.parent / "annotate-load.txt").write_text(report + "\n", encoding="utf-8")
