"""Helpers for the browser tests of the annotation page's editing: data, waits and database reads."""

from __future__ import annotations

import json
import os
from pathlib import Path

from elkit.annotate import Store

from .support import ENTITIES, ServerProcess

# Only a hang guard (as in test_browser.py); ELKIT_HANG_MS makes it shorter when checking that a test fails.
HANG_MS = int(os.environ.get("ELKIT_HANG_MS", "180000"))

SPAN_TEXTS = [
    "Apple opened a store in Paris.\nTim Cook spoke there.",
    "Angela Merkel met Emmanuel Macron in Berlin.",
    "Google and Microsoft compete.",
]

MENTIONS = [
    ("Paris is the capital of France.", 0, 5, "LOC"),
    ("Lovelace wrote notes.", 0, 8, "PER"),
]

BABBAGE = {"entity_id": "Q46633", "label": "Charles Babbage", "description": "English mathematician and engineer",
           "entity_type": "PER", "aliases": ["Babbage"], "popularity": 0.7}


def write_mentions(folder: Path) -> Path:
    path = folder / "mentions.jsonl"
    path.write_text("".join(json.dumps({"text": text, "spans": [{"start": start, "end": end, "label": label}]}) + "\n"
                            for text, start, end, label in MENTIONS), encoding="utf-8")
    return path


def write_entities_with_babbage(folder: Path) -> Path:
    path = folder / "entities.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in [*ENTITIES, BABBAGE]), encoding="utf-8")
    return path


def stored(database: Path, dataset: str, session: str) -> list[dict]:
    store = Store(database)
    try:
        return store.answers(dataset, session_id=session)
    finally:
        store.close()


def spans_of(task: dict) -> list[tuple[str, str]]:
    return [(task["text"][span["start"]:span["end"]], span["label"]) for span in task.get("spans", [])]


def marks(page) -> list[tuple[str, str]]:
    """The marked spans on the card: (text of their tokens, label)."""
    return [tuple(item) for item in page.eval_on_selector_all(
        "#text mark.entity",
        "nodes => nodes.map(node => [Array.from(node.querySelectorAll('.token'))"
        ".map(token => token.textContent).join(' '), node.querySelector('.tag').textContent])")]


def cursor_text(page) -> str:
    return page.locator("#text .token.cursor").inner_text()


def history_texts(page) -> list[str]:
    return page.eval_on_selector_all("#history li", "nodes => nodes.map(node => node.textContent)")


def settled(page, count: int) -> str:
    """Wait until an answer is saved and the history holds ``count`` entries; the status ('saved: …')."""
    page.wait_for_function(
        "count => document.querySelector('#status').textContent.startsWith('saved: ') && "
        "document.querySelectorAll('#history li').length === count", arg=count)
    return page.locator("#status").inner_text()


def reopened(page, text_start: str) -> None:
    """Wait until the card shows the task starting with ``text_start`` as an earlier answer being changed."""
    try:
        page.wait_for_function(
            "start => document.querySelector('#status').textContent.startsWith('Changing an earlier answer') && "
            "document.querySelector('#text').textContent.startsWith(start)", arg=text_start)
    except Exception as error:
        raise AssertionError(f"not reopened ({text_start!r}): {page_state(page)}") from error


def page_state(page) -> dict:
    """What the page shows, for a failure message."""
    return {"status": page.locator("#status").inner_text(), "text": page.locator("#text").text_content(),
            "empty": page.locator("#empty").is_visible(), "history": history_texts(page),
            "progress": page.locator("#progress").inner_text(),
            "state": page.evaluate("() => ({busy: state.busy, editing: Boolean(state.editing), "
                                   "queue: state.queue.length, pending: state.pending.length, "
                                   "current: state.current && state.current.text, history: state.history.length, "
                                   "focus: document.activeElement && document.activeElement.tagName})")}


def showing(page, text_start: str) -> None:
    """Wait until the card shows the task whose text starts with ``text_start``."""
    page.wait_for_function("start => !document.querySelector('#text').classList.contains('hidden') && "
                           "document.querySelector('#text').textContent.startsWith(start)", arg=text_start)


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


class AuthServerProcess(ServerProcess):
    """``elkit annotate --auth user:password``: ready once /api/config answers that user."""

    def __init__(self, arguments: list[str], home: Path, user: str, password: str) -> None:
        self.credentials = (user, password)
        super().__init__([*arguments, "--auth", f"{user}:{password}"], home, auth=self.credentials)
