"""The real server driven by real chromium (Playwright): ner.manual, ner.teach and el.manual, then db-out.

Chromium comes from Debian (``/usr/bin/chromium``, installed by ``make test`` when missing). Screenshots of each
recipe go to ``output/screenshots`` (or ``$ELKIT_SCREENSHOTS``).
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from elkit.annotate import Store
from elkit.cli.main import main

from .support import ServerProcess, trained_pipeline, write_entities, write_source

CHROMIUM = os.environ.get("ELKIT_CHROMIUM", "/usr/bin/chromium")
HANG_MS = 180_000
SCREENSHOTS = Path(os.environ.get("ELKIT_SCREENSHOTS", Path(__file__).parents[2] / "output" / "screenshots"))

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def open_page(browser, server, session):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.set_default_timeout(HANG_MS)  # only to catch a hang: a busy machine may take long, never fail for it
    page.goto(f"{server.url}/?session={session}")
    page.wait_for_selector("#text .token")
    return page


def select_tokens(page, first, last):
    page.locator(f'#text .token[data-i="{first}"]').hover()
    page.mouse.down()
    page.locator(f'#text .token[data-i="{last}"]').hover()
    page.mouse.up()


def saved(page, verdict, count):
    page.wait_for_function(
        "([verdict, count]) => document.querySelector('#status').textContent === 'saved: ' + verdict && "
        "document.querySelectorAll('#history li').length === count", arg=[verdict, count])


def test_ner_manual_in_chromium(browser, tmp_path):
    text = "Apple opened a store in Paris.\nTim Cook spoke there."
    source = write_source(tmp_path, [text, "Berlin is in Germany."])
    database = tmp_path / "db.sqlite"
    server = ServerProcess(["ner.manual", "news", str(source), "--label", "ORG,LOC,PER", "--db", str(database)],
                           tmp_path)
    try:
        page = open_page(browser, server, "web")
        assert page.locator(".newline").count() == 1
        page.click('.label-button[data-label="ORG"]')
        select_tokens(page, 0, 0)
        page.click('.label-button[data-label="PER"]')
        select_tokens(page, 7, 8)  # "Tim Cook", across the newline marker's neighbour
        assert page.locator("mark.entity").count() == 2
        page.screenshot(path=str(SCREENSHOTS / "ner_manual.png"))
        page.click("#accept")
        saved(page, "accept", 1)
        assert page.locator("#text").inner_text().startswith("Berlin")
    finally:
        server.stop()
    stored = Store(database).answers("news")
    assert len(stored) == 1
    assert [(span["start"], span["end"], span["label"]) for span in stored[0]["spans"]] == [
        (0, 5, "ORG"), (text.index("Tim"), text.index("Tim") + 8, "PER")]
    assert stored[0]["_session_id"] == "web"
    output = tmp_path / "out.jsonl"
    assert main(["db-out", "news", str(output), "--db", str(database)]) == 0
    exported = json.loads(output.read_text(encoding="utf-8"))
    assert exported["_session_id"] == "news-web" and exported["spans"][1]["text"] == "Tim Cook"


def test_ner_teach_in_chromium(browser, tmp_path):
    model = tmp_path / "model"
    trained_pipeline(model, steps=15)
    source = write_source(tmp_path, ["Apple bought Beats in California .", "Tim Cook runs Apple from Cupertino ."])
    database = tmp_path / "db.sqlite"
    server = ServerProcess(["ner.teach", "teach", str(source), "--model", str(model), "--db", str(database)],
                           tmp_path)
    try:
        page = open_page(browser, server, "web")
        assert page.locator("mark.entity").count() == 1
        page.screenshot(path=str(SCREENSHOTS / "ner_teach.png"))
        first = page.locator("mark.entity").inner_text()
        page.keyboard.press("a")
        saved(page, "accept", 1)
        page.keyboard.press("x")
        saved(page, "reject", 2)
    finally:
        server.stop()
    stored = Store(database).answers("teach")
    assert [task["answer"] for task in stored] == ["accept", "reject"]
    span = stored[0]["spans"][0]
    assert first.startswith(stored[0]["text"][span["start"]:span["end"]])
    assert all(task["_view_id"] == "binary" and len(task["spans"]) == 1 for task in stored)


def test_el_manual_in_chromium(browser, tmp_path):
    text = "Paris is the capital of France."
    source = tmp_path / "mentions.jsonl"
    source.write_text(json.dumps({"text": text, "spans": [{"start": 0, "end": 5, "label": "LOC"}]}) + "\n"
                      + json.dumps({"text": "Lovelace wrote notes.", "spans": [{"start": 0, "end": 8, "label": "PER"}]})
                      + "\n", encoding="utf-8")
    database = tmp_path / "db.sqlite"
    server = ServerProcess(["el.manual", "links", str(source), "--kb", str(write_entities(tmp_path)),
                            "--cache-dir", str(tmp_path / "cache"), "--db", str(database)], tmp_path)
    try:
        page = open_page(browser, server, "web")
        page.wait_for_selector('.option[data-id="Q830149"]')
        page.click('.option[data-id="Q830149"]')
        page.screenshot(path=str(SCREENSHOTS / "el_manual.png"))
        page.click("#accept")
        saved(page, "accept", 1)
        # The second mention: find the entity with the search box, then accept it.
        page.fill("#search-input", "Ada Lovelace")
        page.click("#search-button")
        page.wait_for_selector('.option.selected[data-id="Q7259"]')
        # The description has markup characters: it is shown as text, not parsed as HTML.
        assert "<b>&</b>" in page.locator('.option[data-id="Q7259"] .description').inner_text()
        page.click("#accept")
        saved(page, "accept", 2)
    finally:
        server.stop()
    stored = Store(database).answers("links")
    assert [(task["spans"][0]["kb_id"], task["accept"]) for task in stored] == [
        ("Q830149", ["Q830149"]), ("Q7259", ["Q7259"])]
    output = tmp_path / "links.jsonl"
    assert main(["db-out", "links", str(output), "--db", str(database)]) == 0
    assert [json.loads(line)["spans"][0]["kb_id"] for line in output.read_text().splitlines()] == ["Q830149", "Q7259"]
