"""Static vectors declared in settings: built on first use, read afterwards, and a clear error otherwise."""

import pytest

from elkit.encoders import vectors as vectors_module
from elkit.encoders.transformers import load_transformer
from elkit.encoders.vectors import StaticVectors, VectorsSettings, open_vectors
from elkit.errors import ConfigError, ModelError
from elkit.settings import validate_settings
from tests.ner.support import tiny_transformer

CONLL = "-DOCSTART- -X- -X- O\n\nParis NNP B-NP B-LOC\nis VBZ B-VP O\nlovely JJ B-ADJP O\n\n"


@pytest.fixture(scope="module")
def transformer_folder(tmp_path_factory):
    return tiny_transformer(tmp_path_factory.mktemp("tiny-bert"))


def test_declared_vectors_are_built_once_then_read(transformer_folder, tmp_path, monkeypatch):
    corpus = tmp_path / "train.conll"
    corpus.write_text(CONLL, encoding="utf-8")
    settings = VectorsSettings(path=str(tmp_path / "vectors"), corpora=[str(corpus)], model=str(transformer_folder),
                               model_vocabulary=False)
    calls = []
    distill = vectors_module.distill_vectors
    monkeypatch.setattr(vectors_module, "distill_vectors", lambda *args, **kwargs: calls.append(1) or distill(
        *args, **{**kwargs, "show_progress": False}))
    words, matrix = open_vectors(settings)
    assert words == ["is", "lovely", "paris"] and matrix.shape[0] == 3
    again, _ = open_vectors(settings)
    assert again == words and len(calls) == 1
    assert StaticVectors.load(settings).words == words
    assert not list(tmp_path.glob(".vectors-*")), "the staging folder is renamed into place"


def test_model_vocabulary_adds_whole_words_only(transformer_folder):
    words = vectors_module.gather_words(model=transformer_folder)
    vocabulary = load_transformer(transformer_folder).tokenizer.get_vocab()
    assert words and all(not word.startswith(("##", "[")) for word in words)
    assert words <= set(vocabulary)


def test_a_missing_plain_folder_says_how_to_build_it(tmp_path):
    with pytest.raises(ModelError, match="elkit vectors distill"):
        open_vectors(tmp_path / "nothing")


def test_settings_name_the_bad_field():
    with pytest.raises(ConfigError, match="corpora"):
        validate_settings(VectorsSettings, {"path": "x", "corpora": "not a list"}, "vectors")
    with pytest.raises(ConfigError, match="unknown setting"):
        validate_settings(VectorsSettings, {"path": "x", "corpus": []}, "vectors")


def test_vectors_built_from_other_sources_are_built_again(transformer_folder, tmp_path, monkeypatch):
    first = tmp_path / "a.conll"
    first.write_text(CONLL, encoding="utf-8")
    second = tmp_path / "b.conll"
    second.write_text(CONLL.replace("lovely", "rainy"), encoding="utf-8")
    calls = []
    distill = vectors_module.distill_vectors
    monkeypatch.setattr(vectors_module, "distill_vectors", lambda *args, **kwargs: calls.append(1) or distill(
        *args, **{**kwargs, "show_progress": False}))
    folder = str(tmp_path / "vectors")
    common = {"path": folder, "model": str(transformer_folder), "model_vocabulary": False}
    assert "rainy" not in open_vectors(VectorsSettings(corpora=[str(first)], **common))[0]
    assert "rainy" in open_vectors(VectorsSettings(corpora=[str(first), str(second)], **common))[0]
    open_vectors(VectorsSettings(corpora=[str(first), str(second)], **common))
    assert len(calls) == 2


def test_resolve_takes_relative_paths_from_a_base(tmp_path):
    settings = VectorsSettings(path="models/v", corpora=["../data/train.txt", str(tmp_path / "abs.txt")])
    resolved = settings.resolve(tmp_path / "repo")
    assert resolved.path == str(tmp_path / "repo" / "models" / "v")
    assert resolved.corpora == [str(tmp_path / "repo" / ".." / "data" / "train.txt"), str(tmp_path / "abs.txt")]
