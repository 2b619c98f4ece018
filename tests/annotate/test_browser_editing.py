"""Editing in real chromium: undo keeps the spans, search does not pick for you, history says what was answered,
no reject key where there is no reject, and a whole ner.manual session by keyboard only.

Each test uses its own session on a server shared by the module (sessions see every task), and reads what it
stored from the database by session.
"""

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from .browser_support import (
    HANG_MS,
    SPAN_TEXTS,
    AuthServerProcess,
    cursor_text,
    history_texts,
    marks,
    press,
    reopened,
    settled,
    showing,
    spans_of,
    stored,
    write_entities_with_babbage,
    write_mentions,
)
from .support import ServerProcess, write_source
from .test_browser import CHROMIUM, open_page, saved, select_tokens

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def chromium():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def spans_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spans")
    source = write_source(folder, SPAN_TEXTS)
    database = folder / "db.sqlite"
    server = ServerProcess(["ner.manual", "news", str(source), "--label", "ORG,LOC,PER", "--db", str(database)],
                           folder)
    yield SimpleNamespace(server=server, database=database, dataset="news")
    server.stop()


@pytest.fixture(scope="module")
def links_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("links")
    server = ServerProcess(["el.manual", "links", str(write_mentions(folder)),
                            "--kb", str(write_entities_with_babbage(folder)), "--cache-dir", str(folder / "cache"),
                            "--db", str(folder / "db.sqlite")], folder)
    yield SimpleNamespace(server=server, database=folder / "db.sqlite", dataset="links")
    server.stop()


@pytest.fixture
def page_for(chromium):
    opened = []

    def open_session(served, session):
        page = open_page(chromium, served.server, session)
        page.set_default_timeout(HANG_MS)
        opened.append(page)
        return page

    yield open_session
    for page in opened:
        page.close()


def test_undo_shows_the_spans_and_lets_them_be_edited(page_for, spans_server):
    page = page_for(spans_server, "undo")
    press(page, "2")  # LOC
    select_tokens(page, 0, 0)
    assert marks(page) == [("Apple", "LOC")]
    press(page, "a")
    saved(page, "accept", 1)
    press(page, "Backspace")
    reopened(page, "Apple")
    assert marks(page) == [("Apple", "LOC")]  # the answer's span is on the card again
    press(page, "1")  # ORG, and the cursor (first token) is on "Apple": relabelled
    select_tokens(page, 5, 5)  # "Paris": no overlap with the invisible old span
    assert "overlaps" not in page.locator("#status").inner_text()
    assert marks(page) == [("Apple", "ORG"), ("Paris", "ORG")]
    page.locator("#text mark.entity").nth(0).locator(".remove").click()
    assert marks(page) == [("Paris", "ORG")]
    press(page, "a")
    saved(page, "accept", 1)
    answers = stored(spans_server.database, "news", "undo")
    assert len(answers) == 1 and spans_of(answers[0]) == [("Paris", "ORG")]


def test_search_adds_hits_without_choosing_one(page_for, links_server):
    page = page_for(links_server, "search")
    page.wait_for_selector(".option.selected")
    before = page.locator(".option.selected").get_attribute("data-id")
    assert before != "Q46633"
    page.fill("#search-input", "Babbage")
    page.press("#search-input", "Enter")
    page.wait_for_selector('.option[data-id="Q46633"]')
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('found')")
    assert page.locator(".option.selected").get_attribute("data-id") == before
    assert "pick one" in page.locator("#status").inner_text()
    press(page, "a")  # accepts what was chosen, not the first hit
    saved(page, "accept", 1)
    showing(page, "Lovelace")
    # The second mention: choose the hit with its number key.
    page.fill("#search-input", "Babbage")
    page.press("#search-input", "Enter")
    page.wait_for_selector('.option[data-id="Q46633"]')
    ids = page.eval_on_selector_all(".option", "nodes => nodes.map(node => node.dataset.id)")
    number = ids.index("Q46633") + 1
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('found')")
    assert number <= 9 and str(number) in page.locator("#status").inner_text()
    assert page.locator(".option.selected").get_attribute("data-id") != "Q46633"
    press(page, str(number))
    page.wait_for_selector('.option.selected[data-id="Q46633"]')
    press(page, "a")
    saved(page, "accept", 2)
    answers = stored(links_server.database, "links", "search")
    assert [task["accept"] for task in answers] == [[before], ["Q46633"]]


def test_history_entries_say_what_was_answered_el_manual(page_for, links_server):
    page = page_for(links_server, "history")
    page.click('.option[data-id="Q90"]')
    press(page, "a")
    saved(page, "accept", 1)
    assert history_texts(page) == ["✓ “Paris” → Q90 Paris"]
    showing(page, "Lovelace")
    page.fill("#search-input", "Babbage")
    page.press("#search-input", "Enter")
    page.click('.option[data-id="Q46633"]')
    press(page, "a")
    saved(page, "accept", 2)
    assert history_texts(page) == ["✓ “Lovelace” → Q46633 Charles Babbage", "✓ “Paris” → Q90 Paris"]
    # After a reload the history comes from the server: the entity's id, and its name where the options have it.
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#history li').length === 2")
    texts = history_texts(page)
    assert texts[0].startswith("✓ “Lovelace” → Q46633") and texts[1] == "✓ “Paris” → Q90 Paris"


def test_history_entries_say_what_was_answered_spans(page_for, spans_server):
    page = page_for(spans_server, "history")
    page.click('.label-button[data-label="ORG"]')
    select_tokens(page, 0, 0)
    page.click('.label-button[data-label="PER"]')
    select_tokens(page, 7, 8)
    press(page, "a")
    saved(page, "accept", 1)
    press(page, " ")
    saved(page, "ignore", 2)
    texts = history_texts(page)
    assert texts[0] == "⊘ Angela Merkel met Emmanuel Macron in Berlin."
    assert texts[1].startswith("✓ 2 spans (ORG, PER) · Apple opened a store in Paris. Tim")
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#history li').length === 2")
    assert history_texts(page) == texts


def test_x_does_nothing_where_there_is_no_reject(page_for, spans_server):
    page = page_for(spans_server, "noreject")
    assert not page.locator("#reject").is_visible()
    press(page, "x", "a")  # x must not answer; a accepts
    assert settled(page, 1) == "saved: accept"
    answers = stored(spans_server.database, "news", "noreject")
    assert [task["answer"] for task in answers] == ["accept"]


def test_help_opens_with_question_mark_and_closes_with_escape(page_for, spans_server):
    page = page_for(spans_server, "help")
    assert not page.locator("#help").is_visible()
    press(page, "?")
    page.wait_for_selector("#help", state="visible")
    help_text = page.locator("#help").inner_text()
    for key in ("Delete", "Enter", "Shift", "Backspace", "Esc", "←", "→"):
        assert key in help_text
    press(page, "Enter")  # keys other than ? and Escape do nothing while the help is open
    assert marks(page) == []
    press(page, "Escape")
    page.wait_for_selector("#help", state="hidden")
    page.click("#help-button")
    page.wait_for_selector("#help", state="visible")
    press(page, "?")
    page.wait_for_selector("#help", state="hidden")


def test_a_whole_ner_manual_session_by_keyboard(page_for, spans_server):
    page = page_for(spans_server, "keys")
    # Task 1: "Apple opened a store in Paris.\nTim Cook spoke there."
    assert cursor_text(page) == "Apple"
    press(page, "1", "Enter")  # Apple ORG
    press(page, "ArrowRight", "ArrowRight", "ArrowRight")
    assert cursor_text(page) == "store"
    press(page, "Enter")
    assert marks(page) == [("Apple", "ORG"), ("store", "ORG")]
    press(page, "d")  # delete the span under the cursor
    assert marks(page) == [("Apple", "ORG")]
    press(page, "ArrowRight", "ArrowRight", "3", "Enter")  # Paris PER: wrong…
    assert marks(page) == [("Apple", "ORG"), ("Paris", "PER")]
    press(page, "2")  # …relabelled LOC with the cursor on it
    assert marks(page) == [("Apple", "ORG"), ("Paris", "LOC")]
    press(page, "ArrowRight", "ArrowRight")
    assert cursor_text(page) == "Tim"
    press(page, "3", "Shift+ArrowRight", "Enter")
    assert marks(page) == [("Apple", "ORG"), ("Paris", "LOC"), ("Tim Cook", "PER")]
    press(page, "ArrowLeft")  # onto "Tim": inside the span, a cursor move does not mark anything
    press(page, "Enter")
    assert "overlaps" in page.locator("#status").inner_text()
    press(page, "a")
    saved(page, "accept", 1)
    # Task 2: "Angela Merkel met Emmanuel Macron in Berlin."
    showing(page, "Angela")
    assert cursor_text(page) == "Angela"
    press(page, "Shift+ArrowRight", "Enter")  # PER is still the label
    press(page, "ArrowRight", "ArrowRight")
    assert cursor_text(page) == "Emmanuel"
    press(page, "Shift+ArrowRight", "Enter")
    press(page, "ArrowRight", "ArrowRight", "2", "Enter")
    assert marks(page) == [("Angela Merkel", "PER"), ("Emmanuel Macron", "PER"), ("Berlin", "LOC")]
    press(page, "a")
    saved(page, "accept", 2)
    # Task 3: "Google and Microsoft compete."; then undo it and change it.
    press(page, "1", "Enter", "a")
    saved(page, "accept", 3)
    press(page, "Backspace")
    reopened(page, "Google")
    assert marks(page) == [("Google", "ORG")]
    assert cursor_text(page) == "Google"
    press(page, "Delete", "ArrowRight", "ArrowRight", "Enter")
    assert marks(page) == [("Microsoft", "ORG")]
    press(page, "a")
    saved(page, "accept", 3)
    page.wait_for_selector("#empty:not(.hidden)")
    # Backspace walks back through the history; then the first answer, reopened from the history list.
    press(page, "Backspace")
    reopened(page, "Google")
    press(page, "Backspace")
    reopened(page, "Angela")
    assert marks(page) == [("Angela Merkel", "PER"), ("Emmanuel Macron", "PER"), ("Berlin", "LOC")]
    page.locator("#history li").nth(2).click()
    reopened(page, "Apple")
    assert marks(page) == [("Apple", "ORG"), ("Paris", "LOC"), ("Tim Cook", "PER")]
    press(page, "Delete")  # the cursor starts on "Apple"
    press(page, "a")
    saved(page, "accept", 3)
    page.wait_for_selector("#empty:not(.hidden)")
    assert re.fullmatch(r"3 done · (0 left|100% of the source) · \d+ in the dataset",
                        page.locator("#progress").inner_text())
    answers = stored(spans_server.database, "news", "keys")
    assert len(answers) == 3 and len({task["_task_hash"] for task in answers}) == 3
    assert {task["text"]: (task["answer"], spans_of(task)) for task in answers} == {
        SPAN_TEXTS[0]: ("accept", [("Paris", "LOC"), ("Tim Cook", "PER")]),
        SPAN_TEXTS[1]: ("accept", [("Angela Merkel", "PER"), ("Emmanuel Macron", "PER"), ("Berlin", "LOC")]),
        SPAN_TEXTS[2]: ("accept", [("Microsoft", "ORG")]),
    }



def test_session_is_the_user_name_and_progress_shows_what_is_left(chromium, tmp_path):
    source = write_source(tmp_path, SPAN_TEXTS[:2])
    database = tmp_path / "db.sqlite"
    server = AuthServerProcess(["ner.manual", "news", str(source), "--label", "ORG", "--db", str(database)],
                               tmp_path, "alice", "secret")
    context = chromium.new_context(http_credentials={"username": "alice", "password": "secret"})
    try:
        page = context.new_page()
        page.set_default_timeout(HANG_MS)
        page.goto(server.url + "/")  # no ?session=: the authenticated user's name
        page.wait_for_selector("#text .token")
        assert page.locator("#session").inner_text() == "session: alice"
        press(page, "a")
        saved(page, "accept", 1)
        showing(page, "Angela")
        assert page.locator("#progress").inner_text() == "1 done · 1 left · 1 in the dataset"
    finally:
        context.close()
        server.stop()
    assert [task["_session_id"] for task in stored(database, "news", "alice")] == ["alice"]


def test_review_shows_agreement_and_keeps_the_links(chromium, tmp_path):
    from elkit.annotate import Store

    text = "Paris is the capital of France."
    tokens = [{"text": "Paris", "start": 0, "end": 5, "id": 0}, {"text": "is", "start": 6, "end": 8, "id": 1}]
    database = tmp_path / "db.sqlite"
    store = Store(database)
    for session, entity in (("alice", "Q90"), ("bob", "Q90"), ("carol", "Q830149")):
        store.add_answers("links", [{"text": text, "tokens": tokens, "answer": "accept", "_view_id": "choice",
                                     "accept": [entity], "spans": [{"start": 0, "end": 5, "token_start": 0,
                                                                    "token_end": 0, "label": "LOC",
                                                                    "kb_id": entity}]}], session_id=session)
    store.close()
    server = ServerProcess(["review", "links_reviewed", "links", "--db", str(database)], tmp_path)
    try:
        page = chromium.new_page()
        page.set_default_timeout(HANG_MS)
        page.goto(f"{server.url}/?session=dana")
        page.wait_for_selector("#text .token")
        assert re.fullmatch(r"2 versions · agreement 0\.\d\d", page.locator("#task-label").inner_text())
        page.keyboard.press("a")
        saved(page, "accept", 1)
        page.close()
    finally:
        server.stop()
    reviewed = stored(database, "links_reviewed", "dana")
    assert [(span["label"], span.get("kb_id")) for span in reviewed[0]["spans"]] == [("LOC", "Q90")]
