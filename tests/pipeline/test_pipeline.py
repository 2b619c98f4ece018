import json

import pytest

import elkit
from elkit.config import PipelineConfig, load_config
from elkit.errors import ConfigError, DataError, ModelError
from elkit.pipeline import Pipeline

CONFIG = """
[nlp]
lang = "en"
pipeline = ["sentencizer"]

[nlp.tokenizer]
factory = "elkit.Tokenizer.v1"

[components.sentencizer]
factory = "elkit.Sentencizer.v1"
newline_breaks = true
"""


def write_config(tmp_path, content=CONFIG):
    path = tmp_path / "config.toml"
    path.write_text(content, encoding="utf-8")
    return path


def test_load_config_and_run(tmp_path):
    nlp = elkit.load(write_config(tmp_path))
    assert nlp.pipe_names == ["sentencizer"]
    assert nlp.get_pipe("sentencizer").config == {"newline_breaks": True}
    doc = nlp("First line\nsecond line")
    assert [sentence.text for sentence in doc.sents] == ["First line", "second line"]


def test_add_pipe_positions_and_names():
    nlp = Pipeline()
    nlp.add_pipe("elkit.Sentencizer.v1")
    nlp.add_pipe("elkit.Sentencizer.v1", name="first", first=True)
    nlp.add_pipe("elkit.Sentencizer.v1", name="middle", after="first")
    nlp.add_pipe("elkit.Sentencizer.v1", name="before_last", before="sentencizer")
    assert nlp.pipe_names == ["first", "middle", "before_last", "sentencizer"]
    with pytest.raises(ConfigError, match="already in the pipeline"):
        nlp.add_pipe("elkit.Sentencizer.v1")
    with pytest.raises(ConfigError, match="no component named 'nope'"):
        nlp.add_pipe("elkit.Sentencizer.v1", name="x", before="nope")
    with pytest.raises(ConfigError, match="at most one"):
        nlp.add_pipe("elkit.Sentencizer.v1", name="y", first=True, last=True)
    nlp.remove_pipe("middle")
    assert not nlp.has_pipe("middle") and nlp.pipe_names == ["first", "before_last", "sentencizer"]


def test_unknown_factory_and_settings():
    nlp = Pipeline()
    with pytest.raises(ConfigError, match="unknown component factory 'elkit.Sentencizer.v9'.*did you mean"):
        nlp.add_pipe("elkit.Sentencizer.v9")
    with pytest.raises(ConfigError, match="splits: unknown setting; allowed: newline_breaks"):
        nlp.add_pipe("elkit.Sentencizer.v1", config={"splits": 3})
    with pytest.raises(ConfigError, match="newline_breaks"):
        nlp.add_pipe("elkit.Sentencizer.v1", config={"newline_breaks": "sometimes"})


def test_config_validation_errors(tmp_path):
    with pytest.raises(ConfigError, match="no \\[components.NAME\\] section"):
        load_config(write_config(tmp_path, '[nlp]\npipeline = ["ner"]\n'))
    with pytest.raises(ConfigError, match="not in nlp.pipeline"):
        load_config(write_config(tmp_path, '[components.x]\nfactory = "elkit.Sentencizer.v1"\n'))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write_config(tmp_path, "[nlp\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="nlp.colour"):
        load_config(write_config(tmp_path, '[nlp]\ncolour = "blue"\n'))
    config = load_config(write_config(tmp_path), overrides={"components.sentencizer.newline_breaks": False})
    assert config.components["sentencizer"].settings == {"newline_breaks": False}


def test_save_and_load_with_manifest(tmp_path):
    nlp = Pipeline.from_config(load_config(write_config(tmp_path)))
    nlp.to_disk(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["elkit_version"] == elkit.__version__
    assert manifest["pipeline"] == [{"name": "sentencizer", "factory": "elkit.Sentencizer.v1"}]
    loaded = elkit.load(tmp_path / "model")
    assert loaded.config == nlp.config
    assert isinstance(loaded.config, PipelineConfig)


def test_load_errors(tmp_path):
    with pytest.raises(ModelError, match="not a pipeline directory"):
        elkit.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="cannot read the manifest"):
        elkit.load(tmp_path / "empty")


def test_pipe_multiprocess_matches_single_process():
    nlp = Pipeline()
    nlp.add_pipe("elkit.Sentencizer.v1")
    texts = [f"Sentence {index} is here. And another one {index}!" for index in range(40)]
    single = [(doc.words, doc.sentence_starts) for doc in nlp.pipe(texts, batch_size=7)]
    multi = [(doc.words, doc.sentence_starts) for doc in nlp.pipe(texts, batch_size=7, n_process=2)]
    assert multi == single


def test_bad_texts():
    nlp = Pipeline(max_length=10)
    with pytest.raises(DataError, match="longer than max_length=10"):
        nlp("x" * 11)
    with pytest.raises(DataError, match="expected a text"):
        nlp.make_doc(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        list(nlp.pipe(["a"], batch_size=0))
    assert len(nlp("")) == 0


def test_pipeline_bytes_round_trip(tmp_path):
    from elkit.linking.builder import create_simple
    from tests.linking.test_builder_cli import ENTITIES
    from tests.ner.test_span_ner import trained

    nlp, _, _ = trained(steps=10)
    text = "Apple bought Beats in California ."
    again = Pipeline.from_bytes(nlp.to_bytes())
    assert again.pipe_names == nlp.pipe_names
    assert [(span.text, span.label, span.score) for span in again(text).ents] == \
        [(span.text, span.label, span.score) for span in nlp(text).ents]
    entities = tmp_path / "entities.jsonl"
    entities.write_text("".join(json.dumps(record) + "\n" for record in ENTITIES), encoding="utf-8")
    linking = create_simple(entities, cache_dir=tmp_path / "cache")
    copy = Pipeline.from_bytes(linking.to_bytes())
    text = "Ada Lovelace met Paris Hilton in Paris, Texas."
    assert [(span.text, span.kb_id) for span in copy(text).ents] == \
        [(span.text, span.kb_id) for span in linking(text).ents]
    with pytest.raises(ModelError, match="not a pipeline"):
        Pipeline.from_bytes(nlp.get_pipe("ner").to_bytes())
