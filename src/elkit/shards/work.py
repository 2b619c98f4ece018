"""What each worker does with a shard: the pipeline it loads once, and the records it writes per document.

A :class:`ShardJob` says everything a worker needs, as plain settings that travel to other processes and
machines: which pipeline (a saved or packaged pipeline, or the ready linking pipeline built from a KB), what to
write (``apply``: Prodigy-style tasks; ``link``: tasks whose spans carry the linked entity's name and the top
candidates), the batch size and the threads. :func:`process_shard` runs one shard through a loaded pipeline and
writes its output atomically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pydantic

from elkit.corpora import ReadReport
from elkit.devices import check_device_setting
from elkit.doc import NIL, Doc
from elkit.doc.task import doc_to_task
from elkit.errors import ConfigError
from elkit.settings import PathText, Settings
from elkit.shards.files import output_path, read_shard, write_atomically

__all__ = ["ShardJob", "ShardSummary", "kb_of", "link_record", "process_shard"]


class ShardJob(Settings):
    """A pipeline and what to write with it, as every worker builds it.

    Attributes:
        mode: "apply" writes each document as a task; "link" also names each linked entity and lists the top
            candidates of each mention.
        model: A saved pipeline folder, a pipeline config (.toml) or an installed model package; with "link" it
            must hold an entity linker (None: the ready pipeline from ``entities`` or ``kb``).
        kb: A KB folder: replaces the model's KB, or is linked against. Every worker opens it, so on a cluster it
            must be a path every node sees.
        entities: An entities.jsonl the ready pipeline is built from (its KB is cached in ``cache_dir``).
        ner_model: With ``entities``/``kb``: a trained NER pipeline that finds the mentions.
        labels: With ``entities``/``kb``: the zero-shot recognizer's labels (None: the KB's types).
        linker: With ``entities``/``kb``: "general" or "self-trained".
        threshold: Below this probability a mention gets NIL (None: the linker's own).
        cache_dir: Cache for KBs and self-trained linkers.
        top_k: Candidates kept per mention in "link" records.
        batch_size: Documents per batch.
        threads: Torch threads per worker (None: every core for the local engine, one per Ray worker).
        lenient: Skip and count bad input records instead of failing the shard.
        max_length: Longest text accepted, in characters (None: the pipeline's own ``max_length``).
        code: Python files each worker imports before it builds the pipeline (they register custom
            components; on a cluster, paths every node sees).
        device: Where each worker runs the torch components ("cpu", "cuda", "cuda:N"; None: the pipeline's own,
            the CPU for a saved one). ``--gpu-id`` sets it.
        precompute_embeddings: With ``entities``/``kb`` and the general linker: encode the KB's entities once
            into ``cache_dir`` and read their vectors while linking (see ``create_simple``).
    """

    mode: Literal["apply", "link"] = "link"
    model: PathText | None = None
    kb: PathText | None = None
    entities: PathText | None = None
    ner_model: PathText | None = None
    labels: list[str] | None = None
    linker: Literal["general", "self-trained"] = "general"
    threshold: float | None = pydantic.Field(None, ge=0.0, le=1.0)
    cache_dir: PathText | None = None
    top_k: int = pydantic.Field(5, ge=0)
    batch_size: int = pydantic.Field(64, ge=1)
    threads: int | None = pydantic.Field(None, ge=1)
    lenient: bool = False
    max_length: int | None = pydantic.Field(None, gt=0)
    code: list[PathText] = []
    device: str | None = None
    precompute_embeddings: bool = False

    @pydantic.field_validator("device")
    @classmethod
    def _check_device(cls, value: str | None) -> str | None:
        return None if value is None else check_device_setting(value)

    @pydantic.model_validator(mode="after")
    def _check_sources(self) -> ShardJob:
        if self.mode == "apply" and self.model is None:
            raise ValueError("apply needs a model")
        if self.mode == "link" and self.model is not None and self.entities is not None:
            raise ValueError("give a model or entities, not both")
        if self.mode == "link" and self.model is None and self.entities is None and self.kb is None:
            raise ValueError("give a trained pipeline (model) or a knowledge base (entities or kb)")
        if self.labels is not None and not self.labels:
            raise ValueError("labels is empty: give label names, or None for the KB's entity types")
        return self

    def load(self, show_progress: bool = False) -> Any:
        """Build the pipeline.

        Raises:
            ConfigError: A "link" model without an entity linker; a path that does not exist.
        """
        from elkit.linking import is_linker
        from elkit.linking.builder import create_simple
        from elkit.packaging import load
        from elkit.registry import import_code

        for path in self.code:
            import_code(path)
        nlp = self._build(load, create_simple, is_linker, show_progress)
        if self.max_length is not None:
            nlp.max_length = self.max_length
        return nlp

    def _build(self, load: Any, create_simple: Any, is_linker: Any, show_progress: bool) -> Any:
        if self.model is not None:
            nlp = load(self.model, device=self.device)
            if self.mode == "apply":
                return nlp
            linkers = [component for _, component in nlp.components if is_linker(component)]
            if not linkers:
                raise ConfigError(f"{self.model}: the pipeline has no entity linker")
            for linker in linkers:
                if self.kb is not None:
                    linker.set_kb(self.kb)
                if self.threshold is not None:
                    linker.threshold = self.threshold
            return nlp
        return create_simple(self.entities, kb=self.kb, ner_model=self.ner_model, threshold=self.threshold,
                             cache_dir=self.cache_dir, labels=self.labels, linker=self.linker,
                             show_progress=show_progress, device=self.device,
                             precompute_embeddings=self.precompute_embeddings)


def kb_of(nlp: Any) -> Any:
    """The KB of the pipeline's first entity linker (None without one)."""
    from elkit.linking import is_linker

    for _, component in nlp.components:
        if is_linker(component):
            return component.kb
    return None


def link_record(doc: Doc, kb: Any, top_k: int) -> dict[str, Any]:
    """A linked document as a task: each span with the linked entity's ``name`` and its top ``candidates``."""
    task = doc_to_task(doc, include_tokens=False)
    for span, entry in zip(doc.ents, task["spans"], strict=True):
        if span.is_linked and kb is not None and span.kb_id in kb:
            entry["name"] = kb.get_entity(span.kb_id).name
        entry["candidates"] = [
            {**candidate.to_dict(), "name": kb.get_entity(candidate.entity_id).name}
            if kb is not None and candidate.entity_id in kb else candidate.to_dict()
            for candidate in span.candidates[:top_k]
        ]
    return task


@dataclass
class ShardSummary:
    """What one shard gave.

    Attributes:
        shard: The input shard.
        output: Its output file.
        documents / mentions / linked / nil: Counts over its documents.
        skipped: Bad input records skipped (lenient jobs).
        seconds: Time spent on it.
        error: Why it failed (empty when it did not).
        attempts: Tries it took.
        skipped_existing: True when its output was already there and the shard was not run again.
    """

    shard: str
    output: str
    documents: int = 0
    mentions: int = 0
    linked: int = 0
    nil: int = 0
    skipped: int = 0
    seconds: float = 0.0
    error: str = ""
    attempts: int = 0
    skipped_existing: bool = False
    labels: dict[str, int] = field(default_factory=dict)


def process_shard(nlp: Any, job: ShardJob, shard: Path, output: Path, kb: Any = None) -> ShardSummary:
    """Run one shard through ``nlp`` and write its output atomically (nothing is written if it fails).

    Raises:
        FormatError: A bad input record (strict jobs), naming the file and line.
    """
    target = output_path(shard, output)
    summary = ShardSummary(str(shard), str(target))
    started = time.perf_counter()
    report = ReadReport()
    items = read_shard(shard, max_length=nlp.max_length, on_error="skip" if job.lenient else "raise",
                       report=report)
    pairs = list(items)
    docs = nlp.pipe((text for text, _ in pairs), batch_size=job.batch_size)

    def records() -> Iterator[str]:
        for doc, (_, meta) in zip(docs, pairs, strict=True):
            doc.meta.update(meta)
            summary.documents += 1
            summary.mentions += len(doc.ents)
            summary.linked += sum(span.is_linked for span in doc.ents)
            summary.nil += sum(span.kb_id == NIL for span in doc.ents)
            for span in doc.ents:
                summary.labels[span.label] = summary.labels.get(span.label, 0) + 1
            record = link_record(doc, kb, job.top_k) if job.mode == "link" else doc_to_task(doc)
            yield json.dumps(record, ensure_ascii=False)

    write_atomically(target, records())
    summary.skipped = report.skipped_count
    summary.seconds = time.perf_counter() - started
    return summary
