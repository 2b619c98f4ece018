"""Entity vectors computed once per KB for the general linker (GLiNKER's ``precompute_embeddings``).

The general linker compares a mention's context with each candidate's text (``"name: description"``, or the name
and its types) and the mention with the candidate's name, both through a sentence encoder. Without this module
those texts are encoded while linking, the first time each candidate appears, which is most of the time a
document takes. `EntityVectors.build` encodes every entity of the KB once and writes the vectors to a folder
(float16, memory-mapped when read); a linker given that folder reads its candidates' rows instead of encoding.

The folder records what the vectors were made from (the KB's fingerprint, the encoder and its input length, the
padding and the text recipe); `EntityVectors.open` refuses a folder that does not match the KB and encoder it is
used with, naming the file and the field that differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from elkit.errors import ConfigError
from elkit.kb.base import KnowledgeBase
from elkit.linking.general_features import entity_name, entity_text

__all__ = ["EntityVectors", "kb_fingerprint"]

_FORMAT = "elkit-entity-vectors-1"
_META = "meta.json"
_TEXTS = "texts.f16.npy"
_NAMES = "names.f16.npy"
_RECIPE = 1  # bump when entity_text or entity_name change what is encoded


def kb_fingerprint(kb: KnowledgeBase) -> str:
    """A digest that changes when the KB is rebuilt: its manifest for a KB folder, else its entities' texts."""
    path = getattr(kb, "path", None)
    manifest = Path(path) / "manifest.json" if path is not None else None
    digest = hashlib.sha256()
    if manifest is not None and manifest.is_file():
        digest.update(manifest.read_bytes())
    else:
        for entity_id in kb.entity_ids():
            entity = kb.get_entity(entity_id)
            digest.update(json.dumps([entity_id, entity.name, entity.description, list(entity.types)]).encode())
    return digest.hexdigest()[:24]


def _encoder_spec(encoder: object) -> dict[str, Any]:
    from elkit.encoders.text import PAD_MULTIPLE

    return {"encoder": str(getattr(encoder, "name", type(encoder).__name__)),
            "max_length": getattr(encoder, "max_length", None), "pad_multiple": PAD_MULTIPLE, "recipe": _RECIPE}


def _entity_rows(kb: KnowledgeBase) -> Callable[[str], int | None]:
    """Entity id to row: the KB's own index rows when it has them, else the `kb.entity_ids()` order."""
    row_of = getattr(kb, "entity_row", None)
    if callable(row_of):
        return row_of  # type: ignore[no-any-return]
    rows = {entity_id: row for row, entity_id in enumerate(kb.entity_ids())}
    return rows.get


class EntityVectors:
    """Unit vectors of every KB entity's text and name, read from a folder `build` wrote.

    Args:
        folder: The folder.
        kb: The KB the linker uses; it must be the one the vectors were built from.
        encoder: The linker's text encoder; it must be the one the vectors were built with.

    Raises:
        ConfigError: The folder is missing, damaged, or was built from another KB or encoder.
    """

    def __init__(self, folder: str | os.PathLike[str], kb: KnowledgeBase, encoder: object) -> None:
        self.folder = Path(folder)
        meta_path = self.folder / _META
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ConfigError(f"{meta_path}: cannot read the entity vectors' description ({error}); build them "
                              f"again (create_simple(..., precompute_embeddings=True))") from None
        expected = {"format": _FORMAT, "kb": kb_fingerprint(kb), "entities": kb.entity_count,
                    **_encoder_spec(encoder)}
        for field, value in expected.items():
            if meta.get(field) != value:
                raise ConfigError(f"{meta_path}: field {field!r} is {meta.get(field)!r} but the linker's "
                                  f"{'KB' if field in ('kb', 'entities') else 'encoder'} needs {value!r}; these "
                                  f"vectors were built for something else: build them again")
        try:
            self.texts = np.load(self.folder / _TEXTS, mmap_mode="r")
            self.names = np.load(self.folder / _NAMES, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise ConfigError(f"{self.folder}: cannot read the entity vectors ({error}); build them again") from None
        for path, array in ((_TEXTS, self.texts), (_NAMES, self.names)):
            if array.ndim != 2 or array.shape[0] != kb.entity_count:
                raise ConfigError(f"{self.folder / path}: shape {array.shape} does not match the KB's "
                                  f"{kb.entity_count} entities; build the vectors again")
        self.meta: dict[str, Any] = meta
        self._row_of = _entity_rows(kb)

    @classmethod
    def build(
        cls,
        kb: KnowledgeBase,
        encoder: Any,
        folder: str | os.PathLike[str],
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> EntityVectors:
        """Encode every entity's text and name with `encoder` and write them to `folder` (replaced whole).

        Args:
            kb: The KB.
            encoder: The text encoder the linker uses (``encode(texts) -> [N, D]`` unit rows).
            folder: Where the vectors go; written under a temporary name, then renamed.
            batch_size: Texts per encoder batch (passed with `progress`).
            progress: Called with the number of texts done after each batch (2 × the entities in all).
        """
        folder = Path(folder)
        row_of = _entity_rows(kb)
        by_row = sorted((row_of(entity_id), entity_id) for entity_id in kb.entity_ids())
        if [row for row, _ in by_row] != list(range(kb.entity_count)):
            raise ConfigError(f"{kb!r}: entity rows are not 0..{kb.entity_count - 1}; cannot store vectors by row")
        texts, names = [], []
        for _, entity_id in by_row:
            entity = kb.get_entity(entity_id)
            name = entity_name(entity_id, entity.name)
            names.append(name)
            texts.append(entity_text(name, entity.description, entity.types))
        building = folder.with_name(f"{folder.name}.building-{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        # an encoder without batching options (encode(texts) only) works when no progress is asked for
        options = {"batch_size": batch_size, "progress": progress} if progress is not None else {}
        for path, strings in ((_TEXTS, texts), (_NAMES, names)):
            vectors = encoder.encode(strings, **options)
            np.save(building / path, np.asarray(vectors, dtype=np.float16))
        meta = {"format": _FORMAT, "kb": kb_fingerprint(kb), "entities": kb.entity_count, **_encoder_spec(encoder)}
        (building / _META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        try:
            building.rename(folder)
        except OSError:  # another process put its copy there first
            shutil.rmtree(building, ignore_errors=True)
        return cls(folder, kb, encoder)

    def save_for(self, kb: KnowledgeBase, folder: str | os.PathLike[str]) -> None:
        """Write these vectors to `folder` for `kb`, a copy of the KB they were built from in another store.

        The rows are put in `kb`'s order and the folder is stamped with `kb`'s fingerprint (a KB written out
        from memory has a manifest, and so a fingerprint, of its own).

        Raises:
            ConfigError: `kb` holds an entity these vectors lack.
        """
        row_of = _entity_rows(kb)
        by_row = sorted((row_of(entity_id), entity_id) for entity_id in kb.entity_ids())
        order = [self._row_of(entity_id) for _, entity_id in by_row]
        if any(row is None for row in order) or [row for row, _ in by_row] != list(range(kb.entity_count)):
            raise ConfigError(f"{self.folder}: these vectors do not cover the entities of {kb!r}")
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        rows = np.asarray(order, dtype=np.int64)
        np.save(target / _TEXTS, np.asarray(self.texts[rows]))
        np.save(target / _NAMES, np.asarray(self.names[rows]))
        meta = {**self.meta, "kb": kb_fingerprint(kb), "entities": kb.entity_count}
        (target / _META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    def lookup(self, entity_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """The text and name vectors of these entities as float32 [N, D] arrays; None if one is not in the KB."""
        rows = [self._row_of(entity_id) for entity_id in entity_ids]
        if any(row is None for row in rows):
            return None
        order = np.asarray(rows, dtype=np.int64)
        return np.asarray(self.texts[order], dtype=np.float32), np.asarray(self.names[order], dtype=np.float32)

    def __repr__(self) -> str:
        return f"EntityVectors({str(self.folder)!r}, entities={self.texts.shape[0]})"
