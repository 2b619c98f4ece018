"""Shared by the linking benchmarks: a trained first stage, with the config's cross-encoder reranker added."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from bench_vectors import static_vectors  # noqa: F401 - re-exported for the linking benchmarks
from elkit.config import load_config, save_config
from elkit.doc import Doc
from elkit.kb.base import KnowledgeBase
from elkit.linking import EntityLinker
from elkit.linking.reranker import CrossEncoderReranker
from elkit.linking.selection import held_out_split
from elkit.linking.training import train_reranker
from elkit.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent


def without_reranker(config: Path, folder: Path) -> Path:
    """A copy of `config` (written into `folder`) without the reranker section: the first stage only."""
    loaded = load_config(config)
    section = loaded.components["entity_linker"]
    (section.model_extra or {}).pop("reranker", None)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{config.stem}-first-stage.toml"
    save_config(loaded, target)
    return target


def first_stage_config(config: Path, kb: Path, vectors: Path | dict[str, Any], reuse: Path | None) -> Any:
    """The linking config with the benchmark's KB and vectors; with `reuse`, without fine-tuning a reranker.

    `vectors` is a folder or a `VectorsSettings` table (see `static_vectors`).
    """
    overrides: dict[str, Any] = {"components.entity_linker.kb": str(kb),
                                 "components.entity_linker.vectors": vectors if isinstance(vectors, dict)
                                 else str(vectors)}
    if reuse is not None and "reranker" in load_config(config).components["entity_linker"].settings:
        overrides["components.entity_linker.reranker.epochs"] = 0  # the first stage only; the reranker is reused
    return load_config(config, overrides)


def load_linker(model: Path, kb: KnowledgeBase, config: Path, train: Sequence[Doc], reranked: Path, retrain: bool,
                reuse: Path | None = None) -> EntityLinker:
    """The linker saved in `model` with `kb`; when `config` has a reranker section, with the reranker too.

    The reranker is fine-tuned on `train` less the held-out documents that training chose on (the config's
    ``held_out_share``, `held_out_split`), its combination weights fitted on those held-out documents, and the
    pipeline saved in `reranked`, unless one is there already and `retrain` is false. With `reuse` (a reranker
    folder, as saved in a linker's ``reranker/``), that fine-tuned cross-encoder is put on top of the first stage in
    `model` instead and only its two combination weights are fitted again, on the held-out documents (a first stage
    retrained with other features keeps the same reranker; fine-tuning a new one takes half an hour on 2 CPU cores).
    The dev set is never read.
    """
    loaded = load_config(config)
    settings = loaded.components["entity_linker"].settings.get("reranker")
    training = loaded.training
    learn, held = held_out_split(train, training.held_out_share if training else 0.1, training.seed if training else 0)
    folder = model
    if settings is not None and not retrain and (reranked / "manifest.json").is_file():
        folder = reranked
    nlp = Pipeline.from_disk(folder)
    linker = nlp.get_pipe("entity_linker")
    assert isinstance(linker, EntityLinker)
    linker.set_kb(kb)
    if settings is not None and linker.reranker is None and reuse is not None:
        linker.change_settings(reranker=settings)
        linker.reranker = CrossEncoderReranker.from_disk(reuse)
        report = linker.reranker.fit_weights(linker.training_rerank_items(held))
        print(f"reused the reranker in {reuse}; combination weights refitted on {len(held)} held-out training "
              f"documents: {report}", file=sys.stderr)
        nlp.to_disk(reranked)
    elif settings is not None and linker.reranker is None:
        threads = torch.get_num_threads()
        torch.set_num_threads(2)
        linker.change_settings(reranker=settings)
        started = time.perf_counter()
        train_reranker(linker, learn, held)
        print(f"fine-tuned the reranker in {(time.perf_counter() - started) / 60:.1f} min", file=sys.stderr)
        nlp.to_disk(reranked)
        torch.set_num_threads(threads)
    return linker
