"""The shipped configs: every section validates against its component's settings model, and every folder a
config reads (static vectors, a KB) is declared with the sources it is built from, so `elkit train CONFIG`
works on a fresh clone."""

from pathlib import Path

import pytest

from elkit.config import load_config
from elkit.encoders.vectors import VectorsSettings
from elkit.kb.declared import KBSettings
from elkit.registry import factories
from elkit.settings import Settings, validate_settings

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


def built_folders(settings: Settings) -> list[tuple[str, object]]:
    """Every (dotted name, value) of a `vectors` or `kb` setting, however deep."""
    found = []
    for name, value in settings:
        if name in ("vectors", "kb") and value is not None:
            found.append((name, value))
        if isinstance(value, Settings):
            found += [(f"{name}.{inner}", item) for inner, item in built_folders(value)]
    return found


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_config_validates_and_declares_its_folders(path):
    config = load_config(path)
    for name in config.nlp.pipeline:
        section = config.components[name]
        model = factories.settings_model(section.factory)
        assert model is not None, f"{section.factory} has no settings model"
        settings = validate_settings(model, section.settings, f"{path.name} [{name}]")
        for setting, value in built_folders(settings):
            assert isinstance(value, VectorsSettings | KBSettings), (
                f"{path.name}: {name}.{setting} = {value!r} names a folder without saying how to build it")


def test_configs_exist():
    assert {path.name for path in CONFIGS} >= {"ner_conll_fast.toml", "link_aida.toml", "link_ncbi.toml"}
