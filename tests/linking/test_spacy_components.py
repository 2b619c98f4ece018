"""elkit's recognizer and linker inside a spaCy 3.8 pipeline: run, save with spaCy, load back with spacy.load."""

import json
import subprocess
import sys

import pytest

spacy = pytest.importorskip("spacy")

from elkit.kb import KBBuilder  # noqa: E402
from elkit.kb.sources import read_entities_jsonl  # noqa: E402
from tests.linking.test_builder_cli import ENTITIES  # noqa: E402
from tests.ner.test_span_ner import trained  # noqa: E402


@pytest.fixture(scope="module")
def kb_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kb")
    entities = folder / "entities.jsonl"
    entities.write_text("".join(json.dumps(record) + "\n" for record in ENTITIES), encoding="utf-8")
    builder = KBBuilder()
    builder.add_records(read_entities_jsonl(entities))
    builder.build(folder / "kb")
    return folder / "kb"


def ents(doc):
    return [(ent.text, ent.label_, ent.kb_id_) for ent in doc.ents]


def test_elkit_components_in_a_spacy_pipeline_save_and_load(tmp_path, kb_folder):
    import elkit.spacy_components  # noqa: F401 - registers the factories (installed packages use the entry point)

    model, _, _ = trained(steps=30)
    model.to_disk(tmp_path / "ner-model")
    nlp = spacy.blank("en")
    nlp.add_pipe("elkit_ner", config={"model": str(tmp_path / "ner-model")})
    nlp.add_pipe("elkit_linker", config={"kb": str(kb_folder)})
    text = "Angela Merkel met Emmanuel Macron in Berlin ."
    doc = nlp(text)
    assert [(ent.text, ent.label_) for ent in doc.ents] == [("Angela Merkel", "PER"), ("Emmanuel Macron", "PER"),
                                                            ("Berlin", "LOC")]
    assert all(ent.kb_id_ == "NIL" for ent in doc.ents)  # none of them is in this KB
    assert all(ent._.elkit_link_score is not None for ent in doc.ents)
    nlp.to_disk(tmp_path / "spacy-pipeline")
    (tmp_path / "ner-model").rename(tmp_path / "gone")  # spacy.load must not need the original paths
    loaded = spacy.load(tmp_path / "spacy-pipeline")
    assert loaded.pipe_names == ["elkit_ner", "elkit_linker"]
    assert ents(loaded(text)) == ents(doc)
    assert [ents(found) for found in loaded.pipe([text, text])] == [ents(doc), ents(doc)]
    # a fresh process finds the factories through the spacy_factories entry point, with no elkit import
    script = f"import spacy; nlp = spacy.load({str(tmp_path / 'spacy-pipeline')!r}); print(nlp({text!r}).ents)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Angela Merkel" in done.stdout


def test_the_linker_links_spacy_entities_and_keeps_candidates(kb_folder):
    import elkit.spacy_components  # noqa: F401

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PER", "pattern": "Ada Lovelace"}, {"label": "LOC", "pattern": "Paris"}])
    nlp.add_pipe("elkit_linker", config={"kb": str(kb_folder)})
    doc = nlp("Ada Lovelace never lived in Paris, the capital of France.")
    assert ents(doc)[0] == ("Ada Lovelace", "PER", "Q7259")
    assert doc.ents[1].kb_id_ == "Q90"
    assert doc.ents[1]._.elkit_candidates[0]["entity_id"] == "Q90"
    with pytest.raises(Exception, match="a KB folder"):
        spacy.blank("en").add_pipe("elkit_linker")
