"""The KB folder format (`elkit.kb.layout`) apart from the lookups, and an interface free of its implementations."""

import ast
from pathlib import Path

import elkit.kb.base
from elkit.kb import KBBuilder, open_kb
from elkit.kb.index import KBIndex
from elkit.kb.layout import MANIFEST, file_entry, map_index_files, read_kb_manifest
from elkit.kb.sources import read_entities_jsonl
from tests.kb.support import write_entities


def test_the_interface_module_imports_no_store():
    tree = ast.parse(Path(elkit.kb.base.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "collections.abc", "typing", "elkit.doc", "elkit.kb.entity",
                        "elkit.kb.normalize"}


def test_saved_files_are_listed_with_size_fingerprint_and_digest(tmp_path):
    builder = KBBuilder()
    builder.add_records(read_entities_jsonl(write_entities(tmp_path)))
    folder = tmp_path / "kb"
    builder.build(folder)
    manifest = read_kb_manifest(folder)
    on_disk = {path.name for path in folder.iterdir()} - {MANIFEST}
    assert set(manifest["files"]) == on_disk
    for name, entry in manifest["files"].items():
        assert entry == file_entry(folder / name)
    files = map_index_files(folder)
    index = KBIndex(files.tries, files.arrays, files.blobs, files.manifest, path=folder)
    kb = open_kb(folder)
    assert index.entity_count == kb.entity_count and index.exact("Paris") == kb.get_alias_candidates("Paris")
