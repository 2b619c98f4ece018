"""db-in / db-out and training material: Prodigy entity-linking answers, word boundaries, session names."""

import io
import json

import pytest

from elkit.annotate import Store
from elkit.annotate.data import export_answers, import_answers, link_counts, load_examples, read_answers_file
from elkit.cli.main import main
from elkit.cli.material import training_material
from elkit.doc import NIL
from elkit.errors import FormatError

# Made-up entities; the answers below are written the way Prodigy's entity-linking choice recipe writes them.
OPTIONS = [
    {"id": "Q9001", "html": "<a href='https://example.org/Q9001'>Q9001: a river in a made-up land</a>"},
    {"id": "Q9002", "html": "<a href='https://example.org/Q9002'>Q9002: a singer</a>"},
    {"id": "NIL_otherLink", "text": "Link not in options"},
    {"id": "NIL_ambiguous", "text": "Need more context"},
]


def el_task(text, mention, accept, *, occurrence=0, answer="accept", options=OPTIONS, view="choice", **extra):
    """A Prodigy entity-linking answer: no tokens, one span (the mention), options and the chosen id."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(mention, start + 1)
    task = {"text": text, "spans": [{"start": start, "end": start + len(mention), "text": mention, "label": "ORG",
                                     "source": "some_model"}],
            "meta": {"score": 1}, "options": options, "_session_id": None, "accept": accept, "answer": answer}
    if view is not None:
        task["_view_id"] = view
    return {**task, **extra}


def write_lines(path, tasks):
    path.write_text("".join(json.dumps(task) + "\n" for task in tasks), encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "db.sqlite")


def test_prodigy_el_answers_read_as_linked_mentions(tmp_path):
    path = write_lines(tmp_path / "el.jsonl", [
        el_task("Orla sang by the Orla river.", "Orla", ["Q9002"]),
        el_task("Orla sang by the Orla river.", "Orla", ["Q9001"], occurrence=1, view=None),
        el_task("Orla was there.", "Orla", ["NIL_ambiguous"]),
        el_task("Orla was there.", "Orla", ["Q9001"], answer="reject"),
    ])
    first, second, nil, rejected = read_answers_file(path)
    assert first["spans"][0]["kb_id"] == "Q9002" and first["accept"] == ["Q9002"]
    assert first["spans"][0]["token_start"] == 0 and first["tokens"][0]["text"] == "Orla"
    assert second["_view_id"] == "choice" and second["spans"][0]["kb_id"] == "Q9001"
    assert first["_input_hash"] == second["_input_hash"] and first["_task_hash"] != second["_task_hash"]
    assert nil["accept"] == [NIL] and nil["spans"][0]["kb_id"] == NIL and nil["nil_choice"] == "NIL_ambiguous"
    assert "kb_id" not in rejected["spans"][0] and rejected["accept"] == ["Q9001"]
    # the task hash names the question (text, mention, options), not the answer: a changed answer replaces
    assert nil["_task_hash"] == rejected["_task_hash"]


@pytest.mark.parametrize(("task", "where", "message"), [
    (el_task("Orla sang.", "Orla", ["Q1234"]), r"\[accept\[0\]\]", "'Q1234' is not among the options"),
    (el_task("Orla sang.", "Orla", ["Q9001", "Q9002"]), r"\[accept\]", "chooses one entity, got 2"),
    ({**el_task("Orla sang.", "Orla", ["Q9001"]), "spans": []}, r"\[spans\]", "exactly one span"),
    (el_task("Orla sang.", "Orla", []), r"\[accept\]", "must choose one option"),
    (el_task("Orla sang.", "Orla", "Q9001"), r"\[accept\]", "must be a list of option ids"),
    (el_task("Orla sang.", "Orla", ["Q9001"], options=[{"text": "no id"}]), r"\[options\[0\]\]", '"id"'),
    ({**el_task("Orla sang.", "Orla", ["Q9001"]), "options": None}, r"\[options\]", "non-empty list"),
])
def test_bad_el_answers_are_refused_with_their_line_and_field(tmp_path, task, where, message):
    path = write_lines(tmp_path / "el.jsonl", [el_task("Orla sang.", "Orla", ["Q9001"]), task])
    with pytest.raises(FormatError, match=r"el\.jsonl:2 " + where + ".*" + message):
        read_answers_file(path)


def test_el_manual_answers_linked_by_kb_search_still_read(tmp_path):
    task = el_task("Orla sang.", "Orla", ["Q4242"], options=[{"id": "Q9001"}, {"id": NIL}])
    task["spans"][0]["kb_id"] = "Q4242"  # el.manual links an entity found by searching the KB, outside the options
    (read,) = read_answers_file(write_lines(tmp_path / "own.jsonl", [task]))
    assert read["spans"][0]["kb_id"] == "Q4242" and read["accept"] == ["Q4242"]


def test_linked_answers_of_one_text_merge_into_one_gold_doc(tmp_path, store):
    text = "Orla met Bren near the Orla river."
    tasks = [
        el_task(text, "Orla", ["Q9001"]),  # changed below: the latest answer to a mention wins
        el_task(text, "Bren", ["NIL_otherLink"]),
        el_task(text, "Orla", ["Q9001"], occurrence=1),
        el_task(text, "Orla", ["Q9002"]),
        el_task("Orla rested.", "Orla", ["Q9002"], answer="reject"),
        el_task("Bren rested.", "Bren", ["Q9002"], answer="ignore"),
    ]
    import_answers(store, "el", read_answers_file(write_lines(tmp_path / "el.jsonl", tasks)))
    data = load_examples(store, ["el"])
    assert len(data.complete) == 1 and not data.partial
    assert [(span.text, span.start, span.kb_id) for span in data.complete[0].ents] == [
        ("Orla", 0, "Q9002"), ("Bren", 2, NIL), ("Orla", 5, "Q9001")]
    assert data.skipped == {"rejected manual answers": 1, "ignored": 1}
    # an editing answer of the same text gives the other spans; the links go on top of it
    manual = {"text": text, "spans": [{"start": 0, "end": 4, "label": "PER"},
                                      {"start": 23, "end": 33, "label": "LOC"}], "_view_id": "spans"}
    import_answers(store, "ner", read_answers_file(write_lines(tmp_path / "ner.jsonl", [manual])))
    (doc,) = load_examples(store, ["el", "ner"]).complete
    assert [(span.text, span.label, span.kb_id) for span in doc.ents] == [
        ("Orla", "PER", "Q9002"), ("Bren", "ORG", NIL), ("Orla river", "LOC", "")]
    assert load_examples(store, ["el", "ner"]).skipped["entity links of mentions that overlap another span of "
                                                       "their text"] == 1
    counts = link_counts(store, "el")
    assert (counts.mentions, counts.entities, counts.nil, counts.unlinked) == (3, 2, 1, 0)


def test_stats_and_training_material_of_an_el_dataset(tmp_path, capsys):
    database = str(tmp_path / "db.sqlite")
    texts = [f"Orla number {index} sang near Bren." for index in range(10)]
    tasks = [el_task(text, "Orla", ["Q9002"]) for text in texts] + [el_task(texts[0], "Bren", ["NIL_otherLink"])]
    assert main(["db-in", "el", str(write_lines(tmp_path / "el.jsonl", tasks)), "--db", database]) == 0
    capsys.readouterr()
    assert main(["stats", "el", "--db", database]) == 0
    assert "links: 11 linked mentions of 1 distinct entities, 1 NIL (9.1%); 0 mentions unlinked" in \
        capsys.readouterr().out
    items, dev = training_material(["el"], None, None, False, 0.2, database)
    assert len(items) == 8 and len(dev) == 2
    links = sorted((span.text, span.kb_id) for doc in [*items, *dev] for span in doc.ents)
    assert links == [("Bren", NIL)] + [("Orla", "Q9002")] * 10


def test_offsets_inside_words_are_refused(tmp_path, store):
    path = write_lines(tmp_path / "bad.jsonl", [{"text": "Good offsets here.", "spans": [{"start": 0, "end": 4}]},
                                                {"text": "Bad offsets here.", "spans": [{"start": 1, "end": 5}]}])
    with pytest.raises(FormatError, match=r"bad\.jsonl:2 \[spans\[0\]\]: offsets \[1, 5\) \('ad o'\) are not on "
                                          "word boundaries"):
        read_answers_file(path)
    assert main(["db-in", "news", str(path), "--db", str(tmp_path / "db.sqlite")]) == 3
    assert "news" not in store
    # a boundary between punctuation is not inside a word, even where the tokenizer keeps one token
    (task,) = read_answers_file(write_lines(tmp_path / "ok.jsonl", [
        {"text": "A U.S.-based firm.", "spans": [{"start": 2, "end": 6, "label": "GPE"}]}]))
    assert [token["text"] for token in task["tokens"]][:3] == ["A", "U.S.", "-based"]


def export(store, dataset):
    buffer = io.StringIO()
    export_answers(store, dataset, buffer)
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_session_names_survive_round_trips_between_datasets(tmp_path, store):
    task = {"text": "Apple is here", "spans": [{"start": 0, "end": 5, "label": "ORG"}]}
    store.add_answers("A", [read_answers_file(write_lines(tmp_path / "in.jsonl", [task]))[0]], session_id="alice")
    source = "A"
    for target in ("B", "C"):
        records = export(store, source)
        assert records[0]["_session_id"] == f"{source}-alice" and records[0]["_session_name"] == "alice"
        import_answers(store, target, read_answers_file(write_lines(tmp_path / f"{source}.jsonl", records)))
        assert store.stats(target)["sessions"] == ["alice"]
        source = target
    (last,) = export(store, "C")
    assert last["_session_id"] == "C-alice" and last["_session_name"] == "alice"
    # without _session_name: the target dataset's prefix is stripped, any other _session_id kept as it is
    plain = {**task, "_session_id": "D-bob"}
    import_answers(store, "D", read_answers_file(write_lines(tmp_path / "d.jsonl", [plain])))
    import_answers(store, "E", read_answers_file(write_lines(tmp_path / "e.jsonl", [plain])))
    assert store.stats("D")["sessions"] == ["bob"] and store.stats("E")["sessions"] == ["D-bob"]
    with pytest.raises(FormatError, match=r"\[_session_name\]"):
        read_answers_file(write_lines(tmp_path / "bad.jsonl", [{**task, "_session_name": 3}]))


LINKER_CONFIG = """
[nlp]
lang = "en"
pipeline = ["entity_linker"]

[components.entity_linker]
factory = "elkit.EntityLinker.v1"
kb = "{kb}"
vectors = "{vectors}"
coherence = false

[training]
seed = 0
max_epochs = 2
patience = 2
held_out_share = 0.3
"""


def test_train_a_linker_from_prodigy_el_answers_and_a_csv_kb(tmp_path, capsys):
    from tests.linking.support import ALIASES, ENTITIES, TRAIN, write_vectors

    csv_rows = [f'"{entity_id}","{name}","{description}"' for entity_id, name, description, *_ in ENTITIES]
    entities = tmp_path / "entities.csv"
    entities.write_text("\n".join(csv_rows) + "\n", encoding="utf-8")
    aliases = tmp_path / "aliases.csv"
    rows = [f"{alias},{entity_id},{prior}" for alias, ids, priors in ALIASES
            for entity_id, prior in zip(ids, priors, strict=True)]
    aliases.write_text("alias,entity_id,prior\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["kb", "build", str(tmp_path / "kb"), "--csv", str(entities), "--aliases", str(aliases)]) == 0
    options = [{"id": entity_id, "html": f"<b>{name}</b>"} for entity_id, name, *_ in ENTITIES]
    options += [{"id": "NIL_otherLink", "text": "Link not in options"}]
    tasks = []
    for text, spans in TRAIN:
        words = text.split(" ")
        for first, last, label, kb_id in spans:
            start = len(" ".join(words[:first])) + (1 if first else 0)
            mention = " ".join(words[first:last])
            task = el_task(text, mention, ["NIL_otherLink" if kb_id == NIL else kb_id], options=options)
            task["spans"] = [{"start": start, "end": start + len(mention), "text": mention, "label": label}]
            tasks.append(task)
    database = str(tmp_path / "db.sqlite")
    assert main(["db-in", "links", str(write_lines(tmp_path / "links.jsonl", tasks)), "--db", database]) == 0
    config = tmp_path / "link.toml"
    config.write_text(LINKER_CONFIG.format(kb=tmp_path / "kb", vectors=write_vectors(tmp_path / "vectors")),
                      encoding="utf-8")
    capsys.readouterr()
    code = main(["train", str(config), "--dataset", "links", "--output", str(tmp_path / "model"), "--db", database])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # 11 texts (one mention each; NIL_otherLink became NIL): 3 held out for dev, 8 to learn from
    assert "8 gold mentions (2 NIL); 0 have an id the KB does not know" in " ".join(captured.err.split())
    assert "in_kb_accuracy" in captured.out
    assert (tmp_path / "model" / "model-best").is_dir()
