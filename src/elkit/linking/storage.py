"""Saving and loading an entity linker: its folder, its bytes and its pickled state, all in one place.

A linker folder holds::

    model.json            format, labels, types, feature names, widths
    weights.safetensors   the scorer's weights, word vectors and idf, entity context sums, the memory's vectors
    vector_words.txt      the word vectors' words, one a line
    entity_ids.txt        the entities with a learned context vector, one a line
    table.json            the mention → entity training counts
    memory.txt            the mention memory's rows, one JSON [normalised text, entity] pair a line
    kb/                   a copy of the KB (when one is set)
    reranker/             the cross-encoder reranker (when there is one)

The bytes (`linker_to_bytes`) hold the same files and the reranker's, but no KB.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from elkit.errors import ModelError
from elkit.io.pack import pack_files, unpack_files
from elkit.kb.memory import InMemoryKB
from elkit.linking.context import ContextVectors
from elkit.linking.features import FEATURES, NIL_FEATURES
from elkit.linking.reranker import CrossEncoderReranker
from elkit.linking.scorer import new_scorer
from elkit.linking.tables import EntityContexts, MentionMemory

if TYPE_CHECKING:
    from elkit.linking.component import EntityLinker

__all__ = ["linker_from_bytes", "linker_state", "linker_to_bytes", "read_linker", "restore_linker_state",
           "write_linker"]

FORMAT = "elkit.EntityLinker/1"
MODEL_JSON = "model.json"
WEIGHTS = "weights.safetensors"
KB_FOLDER = "kb"
RERANKER_FOLDER = "reranker"
_FILES = (MODEL_JSON, WEIGHTS, "vector_words.txt", "entity_ids.txt", "table.json", "memory.txt")


def _files(linker: EntityLinker) -> dict[str, bytes]:
    """The linker's learned state as named files (the KB and the reranker apart)."""
    model = linker.require_model()
    tensors = {f"model.{key}": value.detach().cpu().clone().contiguous() for key, value in model.state_dict().items()}
    words: list[str] = []
    if linker.vectors is not None:
        tensors["vectors"] = torch.from_numpy(linker.vectors.matrix).to(torch.float16)
        tensors["idf"] = torch.from_numpy(linker.vectors.idf)
        words = linker.vectors.words
    entity_ids, sums, counts = linker.entity_contexts.arrays()
    tensors["entity_sums"] = torch.from_numpy(sums).contiguous()
    tensors["entity_counts"] = torch.from_numpy(counts)
    memory_rows, memory_local, memory_document_rows, memory_documents = linker.memory.arrays()
    if memory_rows:
        tensors["memory_local"] = torch.from_numpy(memory_local.astype(np.float16)).contiguous()
        tensors["memory_document_rows"] = torch.from_numpy(memory_document_rows).contiguous()
        tensors["memory_documents"] = torch.from_numpy(memory_documents.astype(np.float16)).contiguous()
    meta = {
        "format": FORMAT, "labels": linker.labels, "types": linker.types, "features": list(FEATURES),
        "nil_features": list(NIL_FEATURES), "dim": model.dim,
        "vector_dim": linker.vectors.dim if linker.vectors else 0,
    }
    return {
        MODEL_JSON: json.dumps(meta, indent=2).encode("utf-8"),
        WEIGHTS: save_tensors(tensors),
        "vector_words.txt": "\n".join(words).encode("utf-8"),
        "entity_ids.txt": "\n".join(entity_ids).encode("utf-8"),
        "table.json": json.dumps(linker.table.to_dict(), ensure_ascii=False).encode("utf-8"),
        "memory.txt": "\n".join(memory_rows).encode("utf-8"),
    }


def _load_files(linker: EntityLinker, files: Mapping[str, bytes], where: str) -> None:
    """Set the linker's learned state from :func:`_files` output.

    Raises:
        ModelError: The files are damaged, of another version, or do not fit the linker's settings.
    """
    try:
        meta = json.loads(files[MODEL_JSON])
        tensors = load_tensors(files[WEIGHTS])
    except (KeyError, ValueError) as error:
        raise ModelError(f"{where}: damaged or incomplete linker files ({error})") from None
    if meta.get("format") != FORMAT or meta.get("features") != list(FEATURES):
        raise ModelError(f"{where}: not a model of this linker version ({meta.get('format')})")
    linker.labels = list(meta["labels"])
    linker.types = list(meta["types"])
    words = files.get("vector_words.txt", b"").decode("utf-8")
    if "vectors" in tensors:
        linker.vectors = ContextVectors(words.split("\n") if words else [], tensors["vectors"].float().numpy(),
                                        tensors["idf"].numpy())
    else:
        linker.vectors = None
    entity_ids = files.get("entity_ids.txt", b"").decode("utf-8")
    linker.entity_contexts = EntityContexts(int(meta.get("vector_dim", 0)))
    if entity_ids:
        linker.entity_contexts.load_arrays(entity_ids.split("\n"), tensors["entity_sums"].float().numpy(),
                                           tensors["entity_counts"].numpy())
    linker.table.load_dict(json.loads(files.get("table.json", b"{}")))
    linker.memory = MentionMemory(int(meta.get("vector_dim", 0)))
    memory_rows = files.get("memory.txt", b"").decode("utf-8")
    if memory_rows and "memory_local" in tensors:
        try:
            linker.memory.load_arrays(memory_rows.split("\n"), tensors["memory_local"].numpy(),
                                      tensors["memory_document_rows"].numpy(), tensors["memory_documents"].numpy())
        except (KeyError, ValueError) as error:
            raise ModelError(f"{where}: damaged linker memory ({error})") from None
    settings = linker.settings
    model = new_scorer(linker.labels, linker.types, int(meta["dim"]), hidden_width=settings.hidden_width,
                       projection=settings.projection, dropout=settings.dropout, features_off=settings.features_off)
    state = {key[len("model."):]: value for key, value in tensors.items() if key.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ModelError(f"{where}: the weights do not fit the configured linker ({error})") from None
    model.eval()
    linker.set_model(model)


def write_linker(linker: EntityLinker, path: str | Path) -> None:
    """Write the model, its tables, the reranker and (when one is set) a copy of the KB into the folder `path`."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in _files(linker).items():
        (directory / name).write_bytes(data)
    kb = linker.kb_if_open
    if kb is not None and (kb.entity_count or linker.settings.kb):
        target = directory / KB_FOLDER
        if target.exists():
            shutil.rmtree(target)
        source = getattr(kb, "path", None)
        if source is not None:
            shutil.copytree(source, target)
        elif isinstance(kb, InMemoryKB):
            kb.to_disk(target)
    if linker.reranker is not None:
        linker.reranker.to_disk(directory / RERANKER_FOLDER)


def read_linker(linker: EntityLinker, path: str | Path) -> None:
    """Load a linker written by :func:`write_linker` (and its KB copy, when there is one).

    Raises:
        ModelError: The folder holds no linker, or a damaged one.
    """
    directory = Path(path)
    if not (directory / MODEL_JSON).is_file():
        raise ModelError(f"{directory}: no {MODEL_JSON}; was the linker trained and saved?")
    _load_files(linker, {name: (directory / name).read_bytes() for name in _FILES if (directory / name).is_file()},
                str(directory))
    if (directory / KB_FOLDER).is_dir():
        linker.set_kb(directory / KB_FOLDER)
    reranker = (CrossEncoderReranker.from_disk(directory / RERANKER_FOLDER, device=linker.device)
                if (directory / RERANKER_FOLDER).is_dir() else None)
    linker.set_reranker(reranker)


def linker_to_bytes(linker: EntityLinker) -> bytes:
    """The model, its tables and the reranker as bytes (not the KB)."""
    files = _files(linker)
    if linker.reranker is not None:
        with tempfile.TemporaryDirectory() as folder:
            linker.reranker.to_disk(folder)
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file():
                    files[f"{RERANKER_FOLDER}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    return pack_files(files)


def linker_from_bytes(linker: EntityLinker, data: bytes) -> None:
    """Load :func:`linker_to_bytes` output into `linker`.

    Raises:
        ModelError: The bytes are damaged or hold a bad reranker file name.
    """
    files = unpack_files(data, f"{linker.name} (EntityLinker bytes)")
    _load_files(linker, files, linker.name)
    prefix = f"{RERANKER_FOLDER}/"
    reranker_files = {name[len(prefix):]: value for name, value in files.items() if name.startswith(prefix)}
    reranker = None
    if reranker_files:
        with tempfile.TemporaryDirectory() as folder:
            for name, value in reranker_files.items():
                target = Path(folder) / name
                if Path(folder).resolve() not in target.resolve().parents:
                    raise ModelError(f"{linker.name}: bad reranker file name {name!r} in the linker bytes")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(value)
            reranker = CrossEncoderReranker.from_disk(folder, device=linker.device)
    linker.set_reranker(reranker)


def linker_state(linker: EntityLinker) -> dict[str, Any]:
    """The linker's attributes for pickling: caches dropped, a KB folder kept as its path (reopened on load)."""
    state = {**linker.__dict__, "_optimizer": None, "_training_cache": {}, "_generator": None, "_infos": None}
    kb = state.get("_kb")
    if kb is not None and getattr(kb, "path", None) is not None:
        state["_kb"] = None
        state["_kb_reopen"] = str(kb.path)
    return state


def restore_linker_state(linker: EntityLinker, state: dict[str, Any]) -> None:
    """Set the attributes :func:`linker_state` gave, reopening the KB folder."""
    reopen = state.pop("_kb_reopen", None)
    linker.__dict__.update(state)
    if reopen is not None:
        from elkit.kb import open_kb

        linker.set_kb(open_kb(reopen))
