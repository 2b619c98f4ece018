"""Run a job over many shards: in this process, or on a Ray cluster with Ray Data's stateful workers.

Both engines skip the shards whose output is already there (a rerun resumes), write each output atomically, try
a failed shard again (``retries`` times) and then report it, never drop it. On Ray, each worker is an actor of
Ray Data's pool that builds the pipeline once (the model, and the KB memory-mapped from a path every node sees)
and then takes one shard at a time; a worker that dies is restarted by Ray and its shard run again, which is
safe because nothing is written until a shard is complete.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from elkit.errors import ConfigError
from elkit.extras import require
from elkit.shards.files import find_shards, output_path, remove_partial
from elkit.shards.work import ShardJob, ShardSummary, kb_of, process_shard
from elkit.threads import set_threads

__all__ = ["RunSummary", "run_shards"]

Engine = Literal["local", "ray"]


@dataclass
class RunSummary:
    """A whole run: its shards and their totals.

    Attributes:
        shards: One summary per input shard, in input order (those skipped as already done included).
        seconds: Wall time of the run.
    """

    shards: list[ShardSummary] = field(default_factory=list)
    seconds: float = 0.0

    def total(self, name: str) -> int:
        """The sum of a count (``documents``, ``mentions``, ``linked``, ``nil``, ``skipped``) over run shards."""
        return sum(getattr(shard, name) for shard in self.shards if not shard.skipped_existing)

    @property
    def failed(self) -> list[ShardSummary]:
        """The shards that failed after every try."""
        return [shard for shard in self.shards if shard.error]

    @property
    def done(self) -> int:
        """Shards written in this run."""
        return sum(1 for shard in self.shards if not shard.skipped_existing and not shard.error)

    @property
    def existing(self) -> int:
        """Shards skipped because an earlier run wrote them."""
        return sum(1 for shard in self.shards if shard.skipped_existing)


def _attempt(nlp: Any, kb: Any, job: ShardJob, shard: Path, output: Path, retries: int) -> ShardSummary:
    """Process a shard, trying again up to `retries` times; a summary with ``error`` set when every try failed."""
    error = ""
    for attempt in range(1, retries + 2):
        try:
            summary = process_shard(nlp, job, shard, output, kb)
        except Exception as failure:  # any failure of a shard is reported with the shard, not raised
            error = f"{type(failure).__name__}: {failure}"
            continue
        summary.attempts = attempt
        return summary
    return ShardSummary(str(shard), str(output_path(shard, output)), error=error, attempts=retries + 1)


class ShardWorker:
    """A Ray Data worker: builds the job's pipeline once, then processes one shard per call.

    Args:
        job: The job, as a dict (``ShardJob.model_dump()``).
        output: The output folder.
        retries: Extra tries for a shard that fails.
    """

    def __init__(self, job: dict[str, Any], output: str, retries: int) -> None:
        self.job = ShardJob.model_validate(job)
        set_threads(self.job.threads or 1)
        self.output = Path(output)
        self.retries = retries
        self.nlp = self.job.load()
        self.kb = kb_of(self.nlp)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        """Process the shards of a batch (Ray gives one at a time); one summary row per shard."""
        rows = [_attempt(self.nlp, self.kb, self.job, Path(str(shard)), self.output, self.retries)
                for shard in batch["shard"]]
        columns = [item.name for item in dataclasses.fields(ShardSummary) if item.name != "labels"]
        result: dict[str, list[Any]] = {name: [getattr(row, name) for row in rows] for name in columns}
        result["pid"] = [os.getpid()] * len(rows)
        return result


def run_shards(
    job: ShardJob,
    source: str | Path,
    output: str | Path,
    *,
    engine: Engine = "local",
    workers: int = 1,
    address: str | None = None,
    retries: int = 1,
    on_shard: Callable[[ShardSummary], None] | None = None,
    nlp: Any = None,
) -> RunSummary:
    """Run `job` over every shard of `source`, writing one output shard per input shard into `output`.

    Args:
        job: What to run and write.
        source: A folder, a glob pattern or a file of shards (.jsonl, .jsonl.gz, .txt, .txt.gz, .parquet).
        output: The output folder (made if missing).
        engine: "local" (this process, one shard after another) or "ray".
        workers: Ray workers (each an actor holding the pipeline); ignored by "local".
        address: The Ray cluster to join ("auto", or "ray://host:10001"); None starts a local one with
            `workers` CPUs.
        retries: Extra tries for a shard that fails before it is reported.
        on_shard: Called with each shard's summary as it completes (progress).
        nlp: An already built pipeline for the local engine (None: built from `job`).

    Returns:
        The run's summary; shards that failed after every try are in ``failed``, with their error.

    Raises:
        ConfigError: No shards, an unknown engine, or Ray missing for the "ray" engine.
    """
    started = time.perf_counter()
    shards = find_shards(source)
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: the output of a sharded run is a folder, and this is a file")
    folder.mkdir(parents=True, exist_ok=True)
    remove_partial(folder)
    summaries: dict[Path, ShardSummary] = {}
    pending = []
    for shard in shards:
        target = output_path(shard, folder)
        if target.is_file():
            summaries[shard] = ShardSummary(str(shard), str(target), skipped_existing=True)
        else:
            pending.append(shard)
    report = on_shard or (lambda summary: None)
    if engine not in ("local", "ray"):
        raise ConfigError(f"unknown engine {engine!r}; use 'local' or 'ray'")
    if engine == "ray":
        for summary in _run_on_ray(job, pending, folder, workers, address, retries):
            summaries[Path(summary.shard)] = summary
            report(summary)
    elif pending:  # the local engine builds the pipeline only when there is something left to do
        if job.threads is not None:
            set_threads(job.threads)
        pipeline = nlp if nlp is not None else job.load(show_progress=True)
        kb = kb_of(pipeline)
        for shard in pending:
            summaries[shard] = _attempt(pipeline, kb, job, shard, folder, retries)
            report(summaries[shard])
    remove_partial(folder)
    return RunSummary([summaries[shard] for shard in shards], time.perf_counter() - started)


def _run_on_ray(job: ShardJob, shards: list[Path], output: Path, workers: int, address: str | None,
                retries: int) -> Any:
    """Yield each shard's summary as Ray Data's worker pool finishes it."""
    if not shards:
        return
    ray = require("ray", "ray", "the ray engine")
    require("ray.data", "ray", "the ray engine")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {"address": address, "ignore_reinit_error": True, "log_to_driver": False,
                                   "include_dashboard": False, "logging_level": "ERROR"}
        if address is None:
            options["num_cpus"] = workers
        ray.init(**options)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.verbose_progress = False
        items = [{"shard": str(shard)} for shard in shards]
        dataset = ray.data.from_items(items, override_num_blocks=len(items))
        results = dataset.map_batches(
            ShardWorker, fn_constructor_kwargs={"job": job.model_dump(), "output": str(output), "retries": retries},
            batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1)
        fields = {item.name for item in dataclasses.fields(ShardSummary)}
        for row in results.iter_rows():
            yield ShardSummary(**{name: value for name, value in row.items() if name in fields})
    finally:
        if started_here:
            ray.shutdown()
