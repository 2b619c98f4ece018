"""A KB declared in settings: built from its sources the first time, opened afterwards."""

import pytest

from elkit.errors import ConfigError, KBError
from elkit.kb import declared
from elkit.kb.declared import KBSettings, build_kb, open_declared_kb
from tests.kb.support import ALIAS_TABLE, write_entities, write_text


def test_declared_kb_is_built_once_then_opened(tmp_path, monkeypatch):
    settings = KBSettings(path=str(tmp_path / "kb"), entities=[str(write_entities(tmp_path))],
                          aliases=[str(write_text(tmp_path, "aliases.tsv", ALIAS_TABLE))])
    builds = []
    original = declared.build_kb
    monkeypatch.setattr(declared, "build_kb", lambda *args, **kwargs: builds.append(1) or original(*args, **kwargs))
    kb = open_declared_kb(settings)
    assert kb.entity_count == 4
    assert {candidate.entity_id for candidate in kb.get_alias_candidates("Paris")} == {"Q90", "Q830149"}
    assert open_declared_kb(settings).entity_count == 4
    assert len(builds) == 1


def test_a_plain_folder_must_exist(tmp_path):
    with pytest.raises(KBError, match="elkit kb build"):
        open_declared_kb(str(tmp_path / "missing"))


def test_a_kb_needs_an_entity_source(tmp_path):
    with pytest.raises(ConfigError, match="entity source"):
        build_kb(KBSettings(path=str(tmp_path / "kb"), aliases=["aliases.tsv"]))


def test_lenient_builds_skip_bad_records(tmp_path):
    path = write_entities(tmp_path)
    path.write_text(path.read_text() + "{not json\n", encoding="utf-8")
    kb, builder = build_kb(KBSettings(path=str(tmp_path / "kb"), entities=[str(path)], lenient=True))
    assert kb.entity_count == 4
    assert any("5" in line or "skipped" in line for line in builder.report.lines())
