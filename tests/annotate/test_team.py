"""What a team hits: idempotent and audited answers, concurrent duplicates, one server per dataset, --no-overlap,
session eviction, links on spans, history, progress after a restart, ner.teach learning after the reply.

Store-level tests run on SQLite and on the PostgreSQL server (``database_url``).
"""

import threading

import pytest

from elkit.annotate import Store
from elkit.annotate.controller import AnswerError, Controller, UnknownTaskError
from elkit.annotate.locks import DatasetLock, DatasetLockedError
from elkit.annotate.recipes import ner_manual
from elkit.annotate.schema import DatasetLockRow

from .support import ServerProcess, write_source
from .test_store import answered

TEXTS = [f"Text {index} is about Apple in Paris." for index in range(12)]


def manual_controller(tmp_path, store, **settings):
    recipe = ner_manual("news", write_source(tmp_path, TEXTS), ["ORG", "LOC"])
    return Controller(recipe, store, **settings)


def apple(task):
    start = task["text"].index("Apple")
    return {"task_hash": task["_task_hash"], "answer": "accept",
            "spans": [{"start": start, "end": start + 5, "label": "ORG"}]}


def test_the_same_answer_twice_is_stored_once_and_returned(database_url):
    store = Store(database_url)
    task = answered("Apple is here", [(0, 0, "ORG")])
    first = store.save_answers("news", [task], "alice")
    again = store.save_answers("news", [{**task, "_timestamp": 123}], "alice")
    assert (first.new, again.new, again.unchanged, again.replaced) == (1, 0, 1, 0)
    assert again.stored == first.stored and store.count("news") == 1
    assert store.audit("news") == []


def test_a_different_answer_wins_and_the_earlier_one_is_audited(database_url):
    store = Store(database_url)
    task = answered("Apple is here", [(0, 0, "ORG")])
    store.save_answers("news", [task], "alice")
    changed = store.save_answers("news", [{**task, "answer": "reject"}], "alice")
    assert (changed.new, changed.replaced) == (0, 1) and changed.stored[0]["answer"] == "reject"
    assert [row["answer"] for row in store.answers("news")] == ["reject"]
    audit = store.audit("news")
    assert len(audit) == 1 and audit[0]["answer"] == "accept" and audit[0]["session_id"] == "alice"
    assert audit[0]["content"]["spans"][0]["label"] == "ORG"


def test_forty_concurrent_duplicates_store_one_row_without_errors(tmp_path, database_url):
    store = Store(database_url)
    controller = manual_controller(tmp_path, store)
    task = controller.next_tasks("alice", 1)[0]
    barrier = threading.Barrier(40)
    replies, errors = [], []

    def post():
        try:
            barrier.wait()
            replies.append(controller.submit("alice", [apple(task)]))
        except BaseException as error:  # every error is a failure of this test
            errors.append(error)

    threads = [threading.Thread(target=post) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)  # a hang guard
    assert not errors, errors[:3]
    assert len(replies) == 40 and sum(reply["new"] for reply in replies) == 1
    assert sum(reply["unchanged"] for reply in replies) == 39
    assert {reply["answers"][0]["_task_hash"] for reply in replies} == {task["_task_hash"]}
    assert store.count("news") == 1 and store.audit("news") == []


def test_one_server_per_dataset_and_database(database_url):
    store = Store(database_url)
    with DatasetLock(store, "news", "elkit annotate ner.manual"):
        with pytest.raises(DatasetLockedError, match=r"'news' .* already served by elkit annotate ner.manual"):
            DatasetLock(Store(database_url), "news")
        DatasetLock(store, "other").release()  # another dataset is free
    with DatasetLock(Store(database_url), "news"):  # released: free again
        pass


def test_a_dead_servers_sqlite_lock_is_taken_over(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    lock = DatasetLock(store, "news")
    lock._stop.set()  # as if the process had died: the row stays
    with store.write_session() as session:
        row = session.get(DatasetLockRow, store.dataset_id("news"))
        row.pid = 2 ** 22 + 12345  # no such process
        store.commit(session)
    DatasetLock(Store(tmp_path / "db.sqlite"), "news").release()


def test_a_second_server_on_the_same_database_and_dataset_refuses_to_start(tmp_path, database_url):
    source = write_source(tmp_path, TEXTS)
    arguments = ["ner.manual", "news", str(source), "--label", "ORG", "--db", database_url]
    first = ServerProcess(arguments, tmp_path)
    try:
        with pytest.raises(RuntimeError, match="already served by elkit annotate ner.manual"):
            ServerProcess(arguments, tmp_path)
        other = ServerProcess(["ner.manual", "other", str(source), "--label", "ORG", "--db", database_url], tmp_path)
        other.stop()
    finally:
        first.stop()


def test_without_overlap_a_late_session_answers_only_its_own_tasks(tmp_path, database_url):
    store = Store(database_url)
    controller = manual_controller(tmp_path, store, overlap=False)
    alice = controller.next_tasks("alice", 3)
    controller.submit("alice", [apple(task) for task in alice])
    # A server restart: bob starts after alice has answered.
    restarted = manual_controller(tmp_path, store, overlap=False)
    bob = restarted.next_tasks("bob", 3)
    assert not {task["_task_hash"] for task in bob} & {task["_task_hash"] for task in alice}
    assert restarted.progress("bob")["session_answers"] == 0
    with pytest.raises(UnknownTaskError):
        restarted.submit("bob", [apple(alice[0])])
    restarted.submit("bob", [apple(bob[0])])
    assert restarted.progress("bob")["session_answers"] == 1
    assert restarted.progress("bob")["dataset_answers"] == 4
    assert [row["_session_id"] for row in store.answers("news")].count("bob") == 1


def test_idle_and_surplus_sessions_are_dropped_and_rebuilt(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    controller = manual_controller(tmp_path, store, max_sessions=5)
    for number in range(30):
        task = controller.next_tasks(f"s{number}", 1)[0]
        controller.submit(f"s{number}", [apple(task)])
    assert controller.session_count <= 5
    # s0 was dropped; it comes back where it was.
    assert controller.next_tasks("s0", 1)[0]["text"] == TEXTS[1]
    assert controller.progress("s0")["session_answers"] == 1


def test_unanswered_tasks_of_a_dropped_session_go_back_to_the_shared_feed(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    controller = manual_controller(tmp_path, store, overlap=False, max_sessions=2)
    held = controller.next_tasks("alice", 2)
    bob = controller.next_tasks("bob", 1)
    # carol comes: alice (least recently seen) is dropped and her two tasks are served again first.
    assert controller.next_tasks("carol", 1)[0]["_task_hash"] == held[0]["_task_hash"]
    # dave comes: bob is dropped.
    assert [task["_task_hash"] for task in controller.next_tasks("dave", 2)] == [held[1]["_task_hash"],
                                                                                  bob[0]["_task_hash"]]


def test_links_on_spans_must_be_offered_or_in_the_kb(tmp_path):
    controller = manual_controller(tmp_path, Store(tmp_path / "db.sqlite"))
    task = controller.next_tasks("alice", 1)[0]
    forged = apple(task)
    forged["spans"][0]["kb_id"] = "Q312"
    with pytest.raises(AnswerError, match="not offered on this span"):
        controller.submit("alice", [forged])


def test_history_is_newest_first_and_edits_move_up(tmp_path, database_url):
    store = Store(database_url)
    controller = manual_controller(tmp_path, store)
    tasks = controller.next_tasks("alice", 5)
    for task in tasks:
        controller.submit("alice", [apple(task)])
    controller.submit("alice", [{"task_hash": tasks[1]["_task_hash"], "answer": "ignore"}])
    history = controller.history("alice", 3)
    assert [task["_task_hash"] for task in history] == [tasks[1]["_task_hash"], tasks[4]["_task_hash"],
                                                        tasks[3]["_task_hash"]]
    assert history[0]["answer"] == "ignore" and history[1]["spans"][0]["token_start"] == 4


def test_progress_survives_a_restart(tmp_path, database_url):
    store = Store(database_url)
    controller = manual_controller(tmp_path, store)
    for task in controller.next_tasks("alice", 4):
        controller.submit("alice", [apple(task)])
    restarted = manual_controller(tmp_path, store).progress("alice")
    assert (restarted["session_answers"], restarted["session_left"], restarted["source_total"]) == (4, 8, 12)
    assert restarted["progress"] == pytest.approx(4 / 12, abs=1e-4)


def test_a_learning_recipe_acknowledges_before_it_learns(tmp_path):
    recipe = ner_manual("news", write_source(tmp_path, TEXTS), ["ORG"])
    release, learned = threading.Event(), []

    def slow_update(batch):
        release.wait(120)  # the model is busy; the answer must not wait for it
        learned.extend(batch)

    recipe.update = slow_update
    controller = Controller(recipe, Store(tmp_path / "db.sqlite"))
    tasks = controller.next_tasks("alice", 2)
    reply = controller.submit("alice", [apple(tasks[0])])
    assert reply["new"] == 1 and not learned
    controller.submit("alice", [apple(tasks[1])])
    release.set()
    controller.wait_for_updates()
    assert len(learned) == 2
    controller.close()


def test_history_reads_only_the_rows_it_returns(tmp_path):
    from sqlalchemy import event

    store = Store(tmp_path / "db.sqlite")
    store.add_answers("news", [answered(f"Apple {index} is here", [(0, 0, "ORG")]) for index in range(300)],
                      session_id="alice")
    controller = manual_controller(tmp_path, store)
    rows = []

    def count_rows(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM EXAMPLES" in statement.upper():
            rows.append(statement)

    event.listen(store.engine, "before_cursor_execute", count_rows)
    history = controller.history("alice", 20)
    event.remove(store.engine, "before_cursor_execute", count_rows)
    assert len(history) == 20 and history[0]["text"] == "Apple 299 is here"
    assert len(rows) == 1 and "LIMIT" in rows[0].upper()  # one query that reads 20 rows, not all 300
