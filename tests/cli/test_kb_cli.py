"""``elkit kb build | info | query``, run in-process through ``main``."""

import json

import pytest

from elkit.cli import main
from tests.kb.support import ALIAS_TABLE, write_entities, write_text


def run(capsys, *arguments):
    code = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def sources(tmp_path):
    return write_entities(tmp_path), write_text(tmp_path, "aliases.tsv", ALIAS_TABLE)


@pytest.fixture
def kb_folder(tmp_path, sources, capsys):
    entities, aliases = sources
    code, out, err = run(capsys, "kb", "build", tmp_path / "kb", "-e", entities, "-a", aliases)
    assert code == 0, err
    assert out.startswith(f"built {tmp_path / 'kb'}: 4 entities, 8 aliases, 9 alias-entity pairs")
    return tmp_path / "kb"


def test_build_then_info_as_json(kb_folder, capsys):
    code, out, _ = run(capsys, "kb", "info", kb_folder, "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["counts"] == {
        "entities": 4,
        "aliases": 8,
        "alias_entity_pairs": 9,
        "normalized_keys": 8,
        "other_ids": 1,
    }
    assert summary["normalizer"]["singularize"] is False
    assert summary["dense"] is None and summary["build_report"] == {}
    assert len(summary["sample"]) == 3
    assert {entity["entity_id"] for entity in summary["sample"]} <= {"Q90", "Q830149", "Q7259", "Q1"}


def test_info_verify(kb_folder, capsys):
    code, out, _ = run(capsys, "kb", "info", kb_folder, "--verify")
    assert code == 0
    assert out.splitlines()[0] == f"KB {kb_folder} (verified)"
    assert "entities" in out and "vectors              none" in out


def test_info_on_a_damaged_kb_is_a_kb_error(kb_folder, capsys):
    (kb_folder / "aliases.marisa").write_bytes(b"damaged")
    code, out, err = run(capsys, "kb", "info", kb_folder)
    assert code == 4 and out == ""
    assert err.strip().splitlines()[-1].startswith(f"error: {kb_folder / 'aliases.marisa'}: 7 bytes")
    code, _, err = run(capsys, "kb", "info", kb_folder.parent / "absent")
    assert code == 4 and "no such KB folder" in err


def test_query_lists_the_entities(kb_folder, capsys):
    code, out, _ = run(capsys, "kb", "query", kb_folder, "paris", "Ada Lovelance", "qwertyuiop")
    assert code == 0
    blocks: dict[str, list[str]] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith("  "):
            blocks[current].append(line.split("\t")[0].strip())
        else:
            current = line
            blocks[current] = []
    assert blocks == {"paris": ["Q90", "Q830149"], "Ada Lovelance": ["Q7259"], "qwertyuiop": ["(no candidates)"]}
    first = next(line for line in out.splitlines() if line.startswith("  Q90"))
    assert "\tParis\tprior=0.750\t" in first and "normalized=1.000" in first and "union=" in first


def test_query_with_one_generator_and_a_bad_one(kb_folder, capsys):
    code, out, _ = run(capsys, "kb", "query", kb_folder, "paris", "Paris", "--generators", "exact")
    assert code == 0
    assert out.splitlines() == [
        "paris",
        "  (no candidates)",
        "Paris",
        "  Q90\tParis\tprior=0.750\texact=1.000 union=1.075",
        "  Q830149\tParis\tprior=0.250\texact=1.000 union=1.025",
    ]
    code, _, err = run(capsys, "kb", "query", kb_folder, "paris", "--generators", "exact,telepathy")
    assert code == 2 and "unknown generators ['telepathy']" in err


def test_unknown_entity_alias_table_is_a_data_error(tmp_path, sources, capsys):
    entities, _ = sources
    table = write_text(tmp_path, "bad.tsv", "alias\tentity_id\tcount\nParis\tQ90\t3\nNowhere\tQ404\t1\n")
    code, out, err = run(capsys, "kb", "build", tmp_path / "kb", "-e", entities, "-a", table)
    assert code == 3 and out == ""
    assert err.strip().splitlines()[-1] == f"error: {table}:3 [entity_id]: alias 'Nowhere' names unknown entity 'Q404'"
    assert not (tmp_path / "kb").exists()
    code, out, err = run(capsys, "kb", "build", tmp_path / "kb", "-e", entities, "-a", table, "--lenient")
    assert code == 0, err
    assert "unknown entity: 1" in out
    assert f"{table}:3: alias 'Nowhere' names unknown entity 'Q404'" in out
    code, out, _ = run(capsys, "kb", "info", tmp_path / "kb", "--json")
    assert json.loads(out)["build_report"] == {"unknown entity": 1}


def test_build_refuses_an_existing_folder_without_overwrite(kb_folder, sources, capsys):
    entities, _ = sources
    code, _, err = run(capsys, "kb", "build", kb_folder, "-e", entities)
    assert code == 4 and "already exists" in err
    code, out, _ = run(capsys, "kb", "build", kb_folder, "-e", entities, "--overwrite")
    assert code == 0 and "6 aliases" in out


def test_build_needs_an_entity_source(tmp_path, sources, capsys):
    _, aliases = sources
    code, _, err = run(capsys, "kb", "build", tmp_path / "kb", "-a", aliases)
    assert code == 2 and "give at least one entity source" in err


def test_build_from_synonyms_with_singular_keys(tmp_path, capsys):
    vocabulary = write_text(tmp_path, "medic.txt", "C567755|613097||Tooth Agenesis|STHAG6\nD1||Bowel Diseases\n")
    code, out, err = run(
        capsys, "kb", "build", tmp_path / "kb", "-s", vocabulary, "--numeric-id-prefix", "OMIM:", "--singularize"
    )
    assert code == 0, err
    assert "2 entities, 3 aliases" in out
    code, out, _ = run(capsys, "kb", "query", tmp_path / "kb", "bowel disease", "--generators", "normalized")
    assert code == 0 and out.splitlines()[1].startswith("  D1\tBowel Diseases\t")
    code, out, _ = run(capsys, "kb", "info", tmp_path / "kb", "--json")
    assert json.loads(out)["counts"]["other_ids"] == 1
