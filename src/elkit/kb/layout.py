"""The on-disk format of a compiled KB: the files of a KB folder, its manifest, and reading and writing them.

Layout of a KB folder (format version 1)::

    manifest.json          counts, normaliser settings, and for every file its size and a fingerprint
    entities.marisa        primary entity ids → row
    other_ids.marisa       other ids → other_id_rows[key id] → row
    records.bin            one JSON record per entity row, located by record_offsets
    alias_ids.bin          the entity id of each alias row, located by alias_id_offsets (saves a trie walk)
    popularity.f32         popularity by row
    aliases.marisa         exact aliases → alias_offsets → (alias_entities, alias_priors), best prior first
    keys.marisa            normalised keys → key_offsets → (key_entities, key_priors)
    key_aliases.i32        for each (key, entity): the id of the entity's alias it came from (optional)
    key_grams.u16          number of distinct 3-grams of each key
    gram_offsets.i64       hashed 3-gram bucket → key ids in gram_keys (the fuzzy index)
    alias_slots.u32        open-addressing hash table: xxh3-64 of an alias → its alias id (exact lookups without
                           a trie walk; KBs built before it have none and use the trie)
    alias_hashes.u64       the xxh3-64 of each alias id's text, to confirm a slot
    deletion_hashes.u64    sorted hashes of every key and its one-character deletions (`elkit.kb.deletions`)
    deletion_keys.i32      the key id of each deletion hash
    vectors.f16            entity vectors by row (optional)
    dense.usearch          approximate nearest-neighbour index over the vectors (optional)

Every file is listed in the manifest with its size, a fingerprint of its ends (checked on every open) and its
SHA-256 (checked on every open for files up to 1 MiB, and for all by ``DiskKB.verify``); priors are checked as
they are read. Writes go to a ``.partial`` sibling first and are moved into place.
The lookups over the opened arrays are in `elkit.kb.index`.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import marisa_trie
import numpy as np

from elkit.errors import KBError

if TYPE_CHECKING:
    from elkit.kb.index import KBIndex

__all__ = [
    "ARRAYS",
    "BLOBS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FULL_CHECK_BYTES",
    "MANIFEST",
    "OPTIONAL_ARRAYS",
    "TRIES",
    "IndexFiles",
    "array_file",
    "check_shapes",
    "file_entry",
    "fingerprint",
    "full_digest",
    "map_index_files",
    "open_dense",
    "read_kb_manifest",
    "save_index",
    "write_kb_manifest",
]

FORMAT_NAME = "elkit-kb"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_FINGERPRINT_BYTES = 4096
FULL_CHECK_BYTES = 1 << 20
"""Files up to this size get their whole SHA-256 checked on every open (larger ones: their ends)."""

ARRAYS: dict[str, str] = {
    "record_offsets": "i8",
    "popularity": "f8",
    "other_id_rows": "i4",
    "alias_offsets": "i8",
    "alias_entities": "i4",
    "alias_priors": "f8",
    "alias_id_offsets": "i8",
    "key_offsets": "i8",
    "key_entities": "i4",
    "key_priors": "f8",
    "key_grams": "u2",
    "gram_offsets": "i8",
    "gram_keys": "i4",
}
OPTIONAL_ARRAYS: dict[str, str] = {"alias_slots": "u4", "alias_hashes": "u8", "deletion_hashes": "u8",
                                   "deletion_keys": "i4", "key_aliases": "i4"}
"""Arrays a KB may lack (it was built before they existed); lookups then take the slower path."""
TRIES = ("entities", "other_ids", "aliases", "keys")
BLOBS = ("records", "alias_ids")
_SUFFIX = {"f8": "f64", "i8": "i64", "i4": "i32", "f4": "f32", "u2": "u16", "f2": "f16", "u4": "u32", "u8": "u64"}


class IndexFiles(NamedTuple):
    """A KB folder's files, mapped: what `KBIndex` is built from."""

    manifest: dict[str, Any]
    tries: dict[str, marisa_trie.Trie]
    arrays: dict[str, np.ndarray]
    blobs: dict[str, memoryview]


def array_file(name: str, dtype: str) -> str:
    """Return the file name of a named array."""
    return f"{name}.{_SUFFIX[dtype]}"


def fingerprint(path: Path) -> str:
    """Hash the first and last 4 KiB of a file: cheap enough for every open, catches truncation and most damage."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(_FINGERPRINT_BYTES))
        if size > _FINGERPRINT_BYTES:
            handle.seek(max(_FINGERPRINT_BYTES, size - _FINGERPRINT_BYTES))
            digest.update(handle.read())
    return digest.hexdigest()


def full_digest(path: Path) -> str:
    """Return the SHA-256 of a whole file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def map_file(path: Path) -> memoryview:
    if path.stat().st_size == 0:
        return memoryview(b"")
    with path.open("rb") as handle:
        return memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))


def file_entry(path: Path) -> dict[str, Any]:
    """The manifest entry of a written file: its size, fingerprint and SHA-256."""
    return {"size": path.stat().st_size, "fingerprint": fingerprint(path), "sha256": full_digest(path)}


def write_kb_manifest(folder: Path, manifest: dict[str, Any], name: str = MANIFEST) -> Path:
    """Write a manifest as indented JSON to ``folder / name``; returns the path."""
    path = folder / name
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def map_index_files(folder: Path) -> IndexFiles:
    """Read and check a KB folder's manifest and files, and memory-map the tries, arrays and blobs.

    Raises:
        KBError: The folder is not a KB, or a file is missing, truncated, damaged or not a trie.
    """
    manifest = read_kb_manifest(folder)
    for name, spec in manifest["files"].items():
        _check_file(folder, name, spec)
    tries = {}
    for name in TRIES:
        trie = marisa_trie.Trie()
        try:
            trie.mmap(str(folder / f"{name}.marisa"))
        except (RuntimeError, OSError, ValueError) as error:
            raise KBError(f"{folder / f'{name}.marisa'}: cannot be opened as a trie: {error}") from None
        tries[name] = trie
    arrays = {}
    for name, dtype in ARRAYS.items():
        view = map_file(folder / array_file(name, dtype))
        arrays[name] = np.frombuffer(view, dtype=np.dtype(dtype))
    for name, dtype in OPTIONAL_ARRAYS.items():
        if array_file(name, dtype) in manifest["files"]:
            arrays[name] = np.frombuffer(map_file(folder / array_file(name, dtype)), dtype=np.dtype(dtype))
    blobs = {name: map_file(folder / f"{name}.bin") for name in BLOBS}
    return IndexFiles(manifest, tries, arrays, blobs)


def read_kb_manifest(folder: Path) -> dict[str, Any]:
    """Read and check a KB folder's manifest.

    Raises:
        KBError: It is missing, not JSON, or not an elkit KB of a supported version.
    """
    path = folder / MANIFEST
    if not folder.is_dir():
        raise KBError(f"{folder}: no such KB folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KBError(f"{path}: missing; {folder} is not an elkit KB (build one with `elkit kb build`)") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise KBError(f"{path}: damaged manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise KBError(f"{path}: not an elkit KB manifest")
    if manifest.get("version") != FORMAT_VERSION:
        raise KBError(f"{path}: KB format version {manifest.get('version')!r} is not supported (need {FORMAT_VERSION})")
    _check_manifest_fields(manifest, path)
    return manifest


def _check_manifest_fields(manifest: dict[str, Any], path: Path) -> None:
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise KBError(f"{path}: the manifest lists no files [files]")
    for name, spec in files.items():
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("size"), int)
            or not isinstance(spec.get("fingerprint"), str)
        ):
            raise KBError(f"{path}: files.{name} must be an object with an integer size and a fingerprint")
    required = [f"{name}.marisa" for name in TRIES] + [f"{name}.bin" for name in BLOBS]
    required += [array_file(name, dtype) for name, dtype in ARRAYS.items()]
    missing = [name for name in required if name not in files]
    if missing:
        raise KBError(f"{path}: the manifest does not list {', '.join(missing)} (damaged or incomplete KB)")
    bits = manifest.get("gram_bits")
    if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 32:
        raise KBError(f"{path}: gram_bits must be an integer in [1, 32], got {bits!r}")
    if not isinstance(manifest.get("normalizer", {}), dict):
        raise KBError(f"{path}: normalizer must be an object, got {manifest.get('normalizer')!r}")
    dense = manifest.get("dense")
    if dense is not None and (not isinstance(dense, dict) or not isinstance(dense.get("dim"), int)):
        raise KBError(f"{path}: dense must be an object with an integer dim, got {dense!r}")


def _check_file(folder: Path, name: str, spec: dict[str, Any]) -> None:
    file_path = folder / name
    if not file_path.is_file():
        raise KBError(f"{file_path}: missing from the KB")
    size = file_path.stat().st_size
    if size != spec.get("size"):
        raise KBError(f"{file_path}: {size} bytes, the manifest says {spec.get('size')} (truncated or replaced)")
    if fingerprint(file_path) != spec.get("fingerprint"):
        raise KBError(f"{file_path}: contents do not match the manifest (damaged or replaced)")
    if size <= FULL_CHECK_BYTES and spec.get("sha256") and full_digest(file_path) != spec["sha256"]:
        raise KBError(f"{file_path}: contents do not match the manifest's checksum (damaged or replaced)")


def check_shapes(index: KBIndex, folder: Path) -> None:
    """Check that every array has the length its counts imply and that the offsets span their data.

    Raises:
        KBError: An array is too short or too long (a damaged KB).
    """
    arrays = index.arrays
    expected = {
        "record_offsets": index.entity_count + 1,
        "popularity": index.entity_count,
        "other_id_rows": len(index.tries["other_ids"]),
        "alias_offsets": index.alias_count + 1,
        "key_offsets": index.key_count + 1,
        "key_grams": index.key_count,
        "alias_priors": len(arrays["alias_entities"]),
        "key_priors": len(arrays["key_entities"]),
        "alias_id_offsets": len(arrays["alias_entities"]) + 1,
        "gram_offsets": (1 << index.gram_bits) + 1,
    }
    for name, length in expected.items():
        if len(arrays[name]) != length:
            raise KBError(f"{folder}: {name} has {len(arrays[name])} entries, expected {length} (damaged KB)")
    ends = {
        "record_offsets": len(index.records),
        "alias_id_offsets": len(index.blobs["alias_ids"]),
        "alias_offsets": len(arrays["alias_entities"]),
        "key_offsets": len(arrays["key_entities"]),
        "gram_offsets": len(arrays["gram_keys"]),
    }
    for name, end in ends.items():
        if int(arrays[name][0]) != 0 or int(arrays[name][-1]) != end:
            raise KBError(f"{folder}: {name} does not span its data (damaged KB)")
    if "key_aliases" in arrays and (len(arrays["key_aliases"]) != len(arrays["key_entities"]) or (
            len(arrays["key_aliases"]) and not 0 <= int(arrays["key_aliases"].min()) <= int(
                arrays["key_aliases"].max()) < index.alias_count)):
        raise KBError(f"{folder}: key_aliases does not fit the keys and aliases (damaged KB)")
    if ("alias_slots" in arrays) != ("alias_hashes" in arrays):
        raise KBError(f"{folder}: alias_slots and alias_hashes come together; one is missing (damaged KB)")
    if ("deletion_hashes" in arrays) != ("deletion_keys" in arrays) or (
            "deletion_hashes" in arrays and len(arrays["deletion_hashes"]) != len(arrays["deletion_keys"])):
        raise KBError(f"{folder}: deletion_hashes and deletion_keys do not match (damaged KB)")
    if "alias_hashes" in arrays:
        slots = len(arrays["alias_slots"])
        if len(arrays["alias_hashes"]) != index.alias_count or slots & (slots - 1) or slots <= index.alias_count:
            raise KBError(f"{folder}: the alias hash table does not fit the aliases (damaged KB)")


def open_dense(folder: Path, spec: dict[str, Any], entity_count: int) -> tuple[np.ndarray, Any]:
    """Map the entity vectors and open the usearch index of a KB folder (read-only views).

    Raises:
        KBError: The vectors do not fit the KB or the index cannot be opened.
    """
    from usearch.index import Index

    dim = int(spec["dim"])
    vectors = np.frombuffer(map_file(folder / "vectors.f16"), dtype=np.float16)
    if vectors.size != entity_count * dim:
        raise KBError(f"{folder / 'vectors.f16'}: has {vectors.size} values, expected {entity_count} x {dim}")
    try:
        dense = Index.restore(str(folder / "dense.usearch"), view=True)
    except Exception as error:  # usearch raises plain RuntimeError / ValueError subclasses
        raise KBError(f"{folder / 'dense.usearch'}: cannot be opened: {error}") from None
    if dense is None or dense.ndim != dim:
        raise KBError(f"{folder / 'dense.usearch'}: not a {dim}-dimensional usearch index")
    return vectors.reshape(entity_count, dim), dense


def save_index(index: KBIndex, folder: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write a compiled index to `folder` (written beside it first, then moved into place).

    Args:
        index: The compiled index.
        folder: The KB folder to create.
        overwrite: Replace an existing KB folder.

    Returns:
        The folder.

    Raises:
        KBError: The folder exists and `overwrite` is False, or exists and is not a KB.
    """
    target = Path(folder)
    if target.exists():
        if not overwrite:
            raise KBError(f"{target}: already exists (pass overwrite=True / --overwrite to replace it)")
        if not (target / MANIFEST).is_file():
            raise KBError(f"{target}: exists and is not an elkit KB; refusing to replace it")
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    for name in TRIES:
        index.tries[name].save(str(partial / f"{name}.marisa"))
    for name, dtype in {**ARRAYS, **OPTIONAL_ARRAYS}.items():
        if name in index.arrays:
            index.arrays[name].astype(np.dtype(dtype), copy=False).tofile(partial / array_file(name, dtype))
    for name in BLOBS:
        (partial / f"{name}.bin").write_bytes(bytes(index.blobs[name]))
    if index.vectors is not None and index.dense is not None:
        np.ascontiguousarray(index.vectors, dtype=np.float16).tofile(partial / "vectors.f16")
        index.dense.save(str(partial / "dense.usearch"))
    manifest = dict(index.manifest)
    manifest["files"] = {path.name: file_entry(path) for path in sorted(partial.iterdir())}
    write_kb_manifest(partial, manifest)
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    index.path = target
    return target
