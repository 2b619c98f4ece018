"""The component contract, run over every registered component factory."""

import pickle

import pytest

from elkit.doc.task import doc_to_task
from elkit.pipeline import Component, Pipeline
from elkit.registry import BUILTIN_FACTORIES, BUILTIN_TOKENIZERS, factories, tokenizers
from elkit.settings import Settings, validate_settings

TEXTS = [
    "Dr. Smith went to Washington. He met the U.S. president on Jan. 5!",
    "No entities here at all",
    "",
    "Multi-line text.\n\nA new paragraph: \"quoted.\" Done?",
    "Émile Zola écrivit « J'accuse…! » en 1898. Puis il partit.",
]


def _training_docs(nlp: Pipeline) -> list:
    docs = []
    for text, spans in [("Dr. Smith went to Washington.", [(1, 2, "PER"), (4, 5, "LOC")]),
                        ("Zola wrote in 1898.", [(0, 1, "PER")])]:
        doc = nlp.make_doc(text)
        doc.ents = [doc.span(start, end, label) for start, end, label in spans]
        docs.append(doc)
    return docs


@pytest.fixture(params=factories.names())
def pipeline(request) -> Pipeline:
    nlp = Pipeline()
    component = nlp.add_pipe(request.param, name="component")
    if hasattr(component, "update"):  # trainable: the contract holds for a trained model
        docs = _training_docs(nlp)
        component.initialize(lambda: docs)
        for _ in range(3):
            component.update(docs)
    return nlp


def snapshot(doc):
    groups = {name: [span.to_dict() for span in spans] for name, spans in doc.spans.items()}
    return doc_to_task(doc), doc.sentence_starts, groups


def test_implements_the_protocol(pipeline):
    component = pipeline.get_pipe("component")
    assert isinstance(component, Component)
    assert component.name == "component"
    assert isinstance(component.config, dict)


def test_call_and_pipe_agree(pipeline):
    by_call = [snapshot(pipeline(text)) for text in TEXTS]
    for batch_size in (1, 2, 100):
        assert [snapshot(doc) for doc in pipeline.pipe(TEXTS, batch_size=batch_size)] == by_call


def test_call_returns_the_doc_and_keeps_text(pipeline):
    component = pipeline.get_pipe("component")
    for text in TEXTS:
        doc = pipeline.make_doc(text)
        words = doc.words
        assert component(doc) is doc
        assert doc.text == text and doc.words == words


def test_bytes_and_disk_round_trip(pipeline, tmp_path):
    component = pipeline.get_pipe("component")
    data = component.to_bytes()
    assert isinstance(data, bytes)
    rebuilt = Pipeline.from_config(pipeline.config)
    rebuilt.get_pipe("component").from_bytes(data)
    assert [snapshot(doc) for doc in rebuilt.pipe(TEXTS)] == [snapshot(pipeline(text)) for text in TEXTS]
    pipeline.to_disk(tmp_path / "model")
    loaded = Pipeline.from_disk(tmp_path / "model")
    assert loaded.config == pipeline.config
    assert [snapshot(loaded(text)) for text in TEXTS] == [snapshot(pipeline(text)) for text in TEXTS]


def test_pickles_for_worker_processes(pipeline):
    restored = pickle.loads(pickle.dumps(pipeline))
    assert [snapshot(restored(text)) for text in TEXTS] == [snapshot(pipeline(text)) for text in TEXTS]


def test_constructor_does_no_work(pipeline, monkeypatch):
    """Building from the config must not touch files or the network."""
    import builtins

    def no_open(*args, **kwargs):
        raise AssertionError("component constructors must not open files")

    config = pipeline.config
    monkeypatch.setattr(builtins, "open", no_open)
    Pipeline.from_config(config)


# --- settings ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILTIN_FACTORIES))
def test_builtin_factories_have_a_settings_model(name):
    model = factories.settings_model(name)
    assert model is not None and issubclass(model, Settings), f"{name} has no settings model"
    component = Pipeline().add_pipe(name, name="component")
    assert isinstance(component.settings, model)


@pytest.mark.parametrize("name", sorted(BUILTIN_TOKENIZERS))
def test_builtin_tokenizers_have_a_settings_model(name):
    model = tokenizers.settings_model(name)
    assert model is not None and issubclass(model, Settings), f"{name} has no settings model"
    tokenizer = tokenizers.make(name, {})
    assert validate_settings(model, tokenizer.to_dict(), name) == tokenizer.settings


def test_config_validates_back_into_the_settings_model(pipeline):
    """``config`` is the settings (with learned state such as labels) and rebuilds an equal component."""
    component = pipeline.get_pipe("component")
    factory = pipeline.config.components["component"].factory
    model = factories.settings_model(factory)
    if model is None:
        pytest.skip(f"{factory} has no settings model")
    settings = validate_settings(model, component.config, factory)
    assert settings.to_config() == component.config
    rebuilt = factories.make(factory, component.config, name="component", nlp=Pipeline())
    assert rebuilt.config == component.config
    assert pickle.loads(pickle.dumps(settings)) == settings
