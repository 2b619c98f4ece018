"""The disk KB: same answers as the in-memory index, lossless records, and KBError (never a crash) on damage."""

import json
import shutil

import pytest

from elkit.errors import KBError
from elkit.kb import DiskKB, Entity, InMemoryKB, KBBuilder, KnowledgeBase, open_kb
from elkit.kb.layout import fingerprint
from elkit.kb.sources import read_alias_table, read_entities_jsonl
from tests.kb.support import ALIAS_TABLE, write_entities, write_text

QUERIES = [
    "Paris",
    "paris",
    "PARIS",
    "Ada",
    "Ada Lovelance",
    "City of Light",
    "city-of-light",
    "Lutetia",
    "cosmos",
    "xyz",
]


def filled_builder(tmp_path):
    builder = KBBuilder()
    builder.add_records(read_entities_jsonl(write_entities(tmp_path)))
    builder.add_alias_rows(read_alias_table(write_text(tmp_path, "aliases.tsv", ALIAS_TABLE)))
    return builder


@pytest.fixture
def kb_folder(tmp_path):
    folder = tmp_path / "kb"
    filled_builder(tmp_path).build(folder)
    return folder


def signature(candidates):
    return [
        (candidate.entity_id, candidate.alias, round(candidate.prior, 9), dict(candidate.scores))
        for candidate in candidates
    ]


def test_disk_answers_like_the_in_memory_index(tmp_path, kb_folder):
    memory_index = filled_builder(tmp_path).build()
    kb = open_kb(kb_folder)
    assert isinstance(kb, DiskKB) and isinstance(kb, KnowledgeBase)
    assert (kb.entity_count, kb.alias_count) == (memory_index.entity_count, memory_index.alias_count) == (4, 8)
    for query in QUERIES:
        assert signature(kb.get_alias_candidates(query)) == signature(memory_index.exact(query)), query
        assert signature(kb.get_normalized_candidates(query)) == signature(memory_index.normalized(query)), query
        memory_fuzzy = [(key_id, round(score, 9)) for key_id, score in memory_index.fuzzy_keys(query)]
        assert [(key_id, round(score, 9)) for key_id, score in kb.index.fuzzy_keys(query)] == memory_fuzzy, query
    assert [candidate.entity_id for candidate in kb.get_alias_candidates("Paris")] == ["Q90", "Q830149"]
    assert [candidate.entity_id for candidate in kb.get_normalized_candidates("city-of-light")] == ["Q90"]
    assert kb.get_candidates_batch(["Paris", "xyz"]) == [kb.get_alias_candidates("Paris"), []]
    assert kb.get_fuzzy_candidates("Ada Lovelance", min_score=0.8)[0].entity_id == "Q7259"


def test_disk_answers_like_the_in_memory_kb(tmp_path):
    memory = InMemoryKB()
    memory.add_entity("Q90", "Paris", "capital of France", ["LOC"], 90.0, other_ids=["enwiki:Paris"])
    memory.add_entity("Q830149", "Paris", "city in Texas", ["LOC", "GPE"], 10.0, attrs={"state": "TX"})
    memory.add_entity("Q1", "Universe", popularity=5)
    memory.add_alias("Paris", ["Q830149", "Q90"], [0.2, 0.7])
    memory.add_alias("PARIS", ["Q90"], [0.9])
    memory.add_alias("cosmos", ["Q1"], [1.0])
    disk = memory.to_disk(tmp_path / "kb")
    for query in ["Paris", "PARIS", "paris", "cosmos", "Cosmos", "Pariss", "nothing"]:
        assert signature(disk.get_alias_candidates(query)) == signature(memory.get_alias_candidates(query)), query
        assert signature(disk.get_normalized_candidates(query)) == signature(memory.get_normalized_candidates(query))
        assert signature(disk.get_fuzzy_candidates(query)) == signature(memory.get_fuzzy_candidates(query)), query
    assert [candidate.entity_id for candidate in disk.get_alias_candidates("Paris")] == ["Q90", "Q830149"]


def test_entity_records_round_trip(tmp_path):
    attrs = {"url": "https://example.org/é", "ids": {"mesh": "D1"}, "rank": 3, "tags": ["a", "b"]}
    entity = Entity("Q90", "Paris", "capital of France", ("LOC", "GPE"), 90.5, ("enwiki:Paris", "geo:1"), attrs)
    builder = KBBuilder()
    builder.add_entity(entity, ["Paris"])
    builder.add_entity(Entity("Q2", "Two"))
    builder.build(tmp_path / "kb")
    kb = open_kb(tmp_path / "kb")
    assert kb.get_entity("Q90") == entity
    assert kb.get_entity("geo:1") == entity
    assert kb.get_entity("Q2") == Entity("Q2", "Two")
    assert kb.resolve("enwiki:Paris") == "Q90" and kb.resolve("enwiki:Nowhere") is None
    assert "geo:1" in kb and "Q3" not in kb and None not in kb
    assert sorted(kb.entity_ids()) == ["Q2", "Q90"]
    with pytest.raises(KBError, match="unknown entity 'Q3'"):
        kb.get_entity("Q3")


def test_in_memory_kb_round_trips_through_disk(tmp_path):
    memory = InMemoryKB()
    memory.add_entity(
        "Q90", "Paris", "capital", ["LOC"], 90, vector=[1.0, 0.0], other_ids=["enwiki:Paris"], attrs={"x": 1}
    )
    memory.add_entity("Q830149", "Paris", "Texas", ["LOC"], 10, vector=[0.0, 1.0])
    memory.add_alias("Paris", ["Q90", "Q830149"], [0.75, 0.25])
    memory.add_alias("Lutetia", ["enwiki:Paris"], [0.5])
    memory.to_disk(tmp_path / "kb")
    with pytest.raises(KBError, match="already exists"):
        memory.to_disk(tmp_path / "kb")
    memory.to_disk(tmp_path / "kb", overwrite=True)
    loaded = InMemoryKB.from_disk(tmp_path / "kb")
    assert sorted(loaded.entity_ids()) == sorted(memory.entity_ids())
    for entity_id in memory.entity_ids():
        assert loaded.get_entity(entity_id) == memory.get_entity(entity_id)
        assert loaded.get_vector(entity_id).tolist() == memory.get_vector(entity_id).tolist()
    assert sorted(loaded.aliases()) == ["Lutetia", "Paris"]
    for alias in ("Paris", "Lutetia"):
        assert signature(loaded.get_alias_candidates(alias)) == signature(memory.get_alias_candidates(alias))
    assert loaded.resolve("enwiki:Paris") == "Q90"


def test_verify_passes_on_a_fresh_kb_and_finds_damage_past_the_fingerprint(tmp_path, monkeypatch):
    from elkit.kb import layout

    monkeypatch.setattr(layout, "FULL_CHECK_BYTES", 0)  # as for big files: open() checks only their ends
    builder = KBBuilder()
    for number in range(400):
        builder.add_entity(Entity(f"E{number}", f"entity number {number}", "a description " * 4), [f"alias {number}"])
    builder.build(tmp_path / "kb")
    kb = open_kb(tmp_path / "kb")
    kb.verify()
    records = tmp_path / "kb" / "records.bin"
    size = records.stat().st_size
    assert size > 3 * 4096  # the byte flipped below is outside the first and last 4 KiB that open() checks
    data = bytearray(records.read_bytes())
    data[size // 2] ^= 0x01
    records.write_bytes(bytes(data))
    reopened = open_kb(tmp_path / "kb")
    with pytest.raises(KBError, match="records.bin: contents differ from the build"):
        reopened.verify()


# -- damage ----------------------------------------------------------------------------------------------


def listed_files(folder):
    return sorted(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["files"])


def test_the_manifest_lists_every_file(kb_folder):
    on_disk = sorted(path.name for path in kb_folder.iterdir() if path.name != "manifest.json")
    assert listed_files(kb_folder) == on_disk
    assert "alias_offsets.i64" in on_disk and "aliases.marisa" in on_disk


def truncate(path, keep=None):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 8 if keep is None else keep])


def flip_early_byte(path):
    data = bytearray(path.read_bytes())
    data[min(5, len(data) - 1)] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damaged_files_give_kb_errors(kb_folder, tmp_path):
    files = listed_files(kb_folder)
    for name in files:
        for damage, expected in (
            (truncate, "truncated"),
            (flip_early_byte, "do not match"),
            (lambda path: path.unlink(), "missing"),
        ):
            if expected != "missing" and (kb_folder / name).stat().st_size == 0:
                continue  # nothing to cut or flip
            copy = tmp_path / "damaged"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(kb_folder, copy)
            damage(copy / name)
            with pytest.raises(KBError, match=expected) as error:
                open_kb(copy)
            assert name in str(error.value), (name, str(error.value))


def test_a_short_array_is_named(kb_folder):
    truncate(kb_folder / "alias_offsets.i64", keep=12)
    with pytest.raises(KBError, match=r"alias_offsets\.i64: 12 bytes, the manifest says \d+ \(truncated"):
        open_kb(kb_folder)


def test_a_short_trie_is_named(kb_folder):
    truncate(kb_folder / "aliases.marisa", keep=100)
    with pytest.raises(KBError, match=r"aliases\.marisa: 100 bytes"):
        open_kb(kb_folder)


@pytest.mark.parametrize(
    "name", ["alias_offsets.i64", "record_offsets.i64", "alias_priors.f64", "gram_keys.i32", "key_grams.u16"]
)
def test_a_short_array_with_a_matching_manifest_entry_still_fails(kb_folder, name):
    truncate(kb_folder / name)

    def reseal(manifest):
        path = kb_folder / name
        manifest["files"][name] = {"size": path.stat().st_size, "fingerprint": fingerprint(path), "sha256": ""}

    edit_manifest(kb_folder, reseal)
    with pytest.raises(KBError, match="damaged KB"):
        open_kb(kb_folder)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda folder: (folder / "manifest.json").unlink(), "manifest.json: missing; .* is not an elkit KB"),
        (
            lambda folder: (folder / "manifest.json").write_text('{"format": "elkit-kb", ', encoding="utf-8"),
            "damaged manifest",
        ),
        (lambda folder: (folder / "manifest.json").write_bytes(b"\xff\xfe\x00garbage"), "damaged manifest"),
        (lambda folder: (folder / "manifest.json").write_text("[1, 2]", encoding="utf-8"), "not an elkit KB manifest"),
        (
            lambda folder: (folder / "manifest.json").write_text('{"format": "other"}', encoding="utf-8"),
            "not an elkit KB",
        ),
    ],
)
def test_a_missing_or_garbled_manifest_gives_a_kb_error(kb_folder, damage, expected):
    damage(kb_folder)
    with pytest.raises(KBError, match=expected):
        open_kb(kb_folder)


def edit_manifest(folder, change):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_an_unsupported_version_or_a_manifest_without_files(kb_folder):
    edit_manifest(kb_folder, lambda manifest: manifest.update(version=99))
    with pytest.raises(KBError, match="version 99 is not supported"):
        open_kb(kb_folder)
    edit_manifest(kb_folder, lambda manifest: manifest.update(version=1, files=None))
    with pytest.raises(KBError, match="lists no files"):
        open_kb(kb_folder)


@pytest.mark.parametrize(
    "change",
    [
        lambda manifest: manifest["files"].update({"records.bin": "damaged"}),
        lambda manifest: manifest.update(gram_bits="many"),
        lambda manifest: manifest.update(normalizer="default"),
    ],
    ids=["file-entry-not-an-object", "gram-bits-not-a-number", "normalizer-not-an-object"],
)
def test_a_structurally_garbled_manifest_gives_a_kb_error(kb_folder, change):
    edit_manifest(kb_folder, change)
    with pytest.raises(KBError):
        open_kb(kb_folder)


def test_a_missing_file_the_manifest_forgot_gives_a_kb_error(kb_folder):
    edit_manifest(kb_folder, lambda manifest: manifest["files"].pop("alias_offsets.i64"))
    (kb_folder / "alias_offsets.i64").unlink()
    with pytest.raises(KBError, match="alias_offsets"):
        open_kb(kb_folder)


def test_a_folder_that_is_not_a_kb(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(KBError, match="is not an elkit KB"):
        open_kb(tmp_path / "notes")
    with pytest.raises(KBError, match="no such KB folder"):
        open_kb(tmp_path / "absent")
    with pytest.raises(KBError, match="no such KB folder"):
        open_kb(tmp_path / "notes" / "readme.txt")


def test_building_into_an_existing_folder_needs_overwrite(tmp_path, kb_folder):
    before = sorted(path.name for path in kb_folder.iterdir())
    with pytest.raises(KBError, match="already exists"):
        filled_builder(tmp_path).build(kb_folder)
    assert sorted(path.name for path in kb_folder.iterdir()) == before
    builder = KBBuilder()
    builder.add_entity(Entity("Z", "Zed"), ["Zed"])
    builder.build(kb_folder, overwrite=True)
    assert open_kb(kb_folder).entity_count == 1
    # overwrite never replaces a folder that is not a KB
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("...", encoding="utf-8")
    with pytest.raises(KBError, match="is not an elkit KB; refusing"):
        builder.build(tmp_path / "precious", overwrite=True)
    assert (tmp_path / "precious" / "thesis.tex").is_file()


def test_fuzzy_recall_holds_when_many_keys_share_grams():
    import random

    rng = random.Random(3)
    syllables = "ka lo mi ra ben tor sel vin dra gol har mun pet sia wen".split()
    firsts = ["John", "Mary", "Peter", "Anna", "James", "Linda", "Paul", "Sara", "Mark", "Emma"]
    lasts = sorted({"".join(rng.choice(syllables) for _ in range(3)).capitalize() for _ in range(700)})
    builder = KBBuilder()
    names = [f"{first} {last}" for first in firsts for last in lasts]
    for number, name in enumerate(names):
        builder.add_entity(Entity(f"E{number}", name), aliases=[name])
    index = builder.build()
    assert len(names) > 5000

    def typo(text):
        position = rng.randrange(len(text.split()[0]) + 2, len(text) - 1)
        return text[:position] + rng.choice("bdfgkz") + text[position + 1:]

    asked = rng.sample(range(len(names)), 300)
    found = 0
    for number in asked:
        answers = index.fuzzy_keys(typo(names[number]), limit=10, budget=200)  # 4,096 by default
        keys = [index._keys.restore_key(key_id) for key_id, _ in answers]
        found += index.normalizer(names[number]) in keys
    assert found / len(asked) >= 0.98


def test_exact_lookups_through_the_hash_table_match_the_trie(tmp_path, kb_folder):
    kb = open_kb(kb_folder)
    index = kb.index
    assert index._alias_slots is not None and len(index._alias_slots) >= 2 * index.alias_count
    aliases = list(index.iter_aliases())
    for alias in aliases:
        alias_id = index._aliases.get(alias)
        expected = signature(kb.get_alias_candidates(alias))
        index._alias_slots, saved = None, index._alias_slots  # the trie path, as for a KB without the table
        assert signature(kb.get_alias_candidates(alias)) == expected and alias_id is not None
        index._alias_slots = saved
    for text in ("", "paris", "Paris ", "nothing like it", "\ud800"):
        assert kb.get_alias_candidates(text) == [] or text in aliases


def test_a_kb_without_the_hash_table_still_opens_and_finds_aliases(tmp_path, kb_folder):
    old = tmp_path / "old-kb"
    shutil.copytree(kb_folder, old)
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    for name in ("alias_slots.u32", "alias_hashes.u64"):
        del manifest["files"][name]
        (old / name).unlink()
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert [candidate.entity_id for candidate in open_kb(old).get_alias_candidates("Paris")] == \
        [candidate.entity_id for candidate in open_kb(kb_folder).get_alias_candidates("Paris")]
    manifest = json.loads((kb_folder / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"]["alias_hashes.u64"]
    (kb_folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(KBError, match="come together"):
        open_kb(kb_folder)


def test_same_size_damage_is_found_at_open_or_at_first_read(tmp_path, monkeypatch):
    import numpy as np

    from elkit.kb import layout

    builder = KBBuilder()
    for number in range(3000):
        builder.add_entity(Entity(f"E{number}", f"entity number {number}"), [f"alias {number}"])
    builder.build(tmp_path / "kb")
    priors = tmp_path / "kb" / "alias_priors.f64"
    data = bytearray(priors.read_bytes())
    assert len(data) > 3 * 4096  # the damage below is past the fingerprinted ends
    middle = len(data) // 16 * 8
    data[middle: middle + 8] = np.array([np.nan]).tobytes()  # one prior overwritten in place
    priors.write_bytes(bytes(data))
    with pytest.raises(KBError, match="alias_priors.f64: contents do not match the manifest's checksum"):
        open_kb(tmp_path / "kb")  # a small file: its whole checksum is checked on open
    monkeypatch.setattr(layout, "FULL_CHECK_BYTES", 0)  # a big file: only its ends are checked on open
    kb = open_kb(tmp_path / "kb")
    errors = []
    for alias in kb.aliases():
        try:
            kb.get_alias_candidates(alias)
        except KBError as error:
            errors.append(str(error))
    assert len(errors) == 1 and "alias_priors.f64: the prior of" in errors[0] and "reads nan" in errors[0]


def test_normalised_and_fuzzy_candidates_name_their_own_alias(tmp_path):
    kb = InMemoryKB()
    kb.add_entity("Q90", name="Paris")
    kb.add_entity("Q830149", name="Paris, Texas")
    kb.add_entity("Q30", name="United States")
    kb.add_alias("Paris", ["Q90", "Q830149"], [0.9, 0.1])
    kb.add_alias("PARIS, TX", ["Q830149"], [1.0])
    kb.add_alias("U.S.", ["Q30"], [0.8])
    for store in (kb, open_kb(_saved(kb, tmp_path / "kb"))):
        found = {(candidate.entity_id, candidate.alias, candidate.prior) for candidate in
                 store.get_normalized_candidates("PARIS")}
        assert found == {("Q90", "Paris", 0.9), ("Q830149", "Paris", 0.1)}  # the KB's alias, not "paris"
        for variant in ("U.S", "U. S.", "u.s."):
            assert [(candidate.alias, candidate.prior) for candidate in store.get_normalized_candidates(variant)] \
                == [("U.S.", 0.8)]
        fuzzy = store.get_fuzzy_candidates("Paris TXX", min_score=0.3)  # one typo
        texas = next(candidate for candidate in fuzzy if candidate.alias == "PARIS, TX")
        assert texas.entity_id == "Q830149" and texas.prior == 1.0 and 0.3 <= texas.scores["fuzzy"] < 1.0


def _saved(kb, folder):
    kb.to_disk(folder)
    return folder


def test_a_kb_without_key_aliases_falls_back_to_the_key(tmp_path, kb_folder):
    old = tmp_path / "old-kb"
    shutil.copytree(kb_folder, old)
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"]["key_aliases.i32"]
    (old / "key_aliases.i32").unlink()
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert [candidate.alias for candidate in open_kb(old).get_normalized_candidates("PARIS")][:1] == ["paris"]
    assert [candidate.entity_id for candidate in open_kb(old).get_normalized_candidates("PARIS")] == \
        [candidate.entity_id for candidate in open_kb(kb_folder).get_normalized_candidates("PARIS")]
