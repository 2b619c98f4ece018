"""The sharded mode of ``elkit link`` and ``elkit apply``: many input shards, one output shard each, local or Ray."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from elkit.cli.app import error_console
from elkit.errors import ConfigError
from elkit.progress import progress_bar
from elkit.shards import ShardJob, ShardSummary, find_shards, run_shards

__all__ = ["ENGINE_HELP", "address_option", "engine_option", "is_sharded", "retries_option", "run_sharded",
           "workers_option"]

ENGINE_HELP = ("'local' or 'ray': treat INPUT as shards (a folder or glob of .jsonl, .jsonl.gz, .txt or .parquet "
               "files) and write one output shard per input shard into the output folder; a rerun skips the "
               "shards already written. Default: sharded (local) when INPUT is a folder or glob.")


def engine_option() -> Any:
    """The ``--engine`` option."""
    return typer.Option(None, "--engine", help=ENGINE_HELP)


def workers_option() -> Any:
    """The ``--workers`` option."""
    return typer.Option(2, "--workers", min=1, help="With --engine ray: worker actors, each holding the pipeline "
                        "(and the memory-mapped KB).")


def address_option() -> Any:
    """The ``--address`` option."""
    return typer.Option(None, "--address", help="With --engine ray: the cluster to join ('auto' or "
                        "ray://HOST:10001); default: a local cluster of --workers CPUs.")


def retries_option() -> Any:
    """The ``--retries`` option."""
    return typer.Option(1, "--retries", min=0, help="Sharded runs: extra tries for a failing shard.")


def is_sharded(input_path: Path, engine: str | None) -> bool:
    """Whether a run is sharded: an engine was named, or the input is a folder or a glob pattern."""
    if engine is not None:
        if engine not in ("local", "ray"):
            raise ConfigError(f"--engine must be 'local' or 'ray', got {engine!r}")
        return True
    return input_path.is_dir() or (not input_path.exists() and glob.has_magic(str(input_path)))


def run_sharded(job: ShardJob, input_path: Path, output: Path, engine: str | None, workers: int,
                address: str | None, retries: int) -> None:
    """Run `job` over the shards of `input_path` with a progress bar, print the summary; exit 1 on failed shards."""
    total = len(find_shards(input_path))
    with progress_bar(error_console, unit="shards") as progress:
        task = progress.add_task(f"{job.mode} ({engine or 'local'})", total=total)

        def done(summary: ShardSummary) -> None:
            progress.advance(task)
            if summary.error:
                error_console.print(f"[red]failed[/red] {summary.shard}: {summary.error}")

        progress.advance(task, 0)
        result = run_shards(job, input_path, output, engine=engine or "local", workers=workers, address=address,
                            retries=retries, on_shard=done)
        progress.update(task, completed=total)
    table = Table(title=f"{job.mode}: {total} shards into {output}")
    for column in ("shards written", "already there", "failed", "documents", "mentions", "linked", "NIL",
                   "skipped lines", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(f"{result.done:,}", f"{result.existing:,}", f"{len(result.failed):,}",
                  *(f"{result.total(name):,}" for name in ("documents", "mentions", "linked", "nil", "skipped")),
                  f"{result.seconds:.1f}")
    Console(soft_wrap=True).print(table)
    for failed in result.failed:
        typer.echo(f"failed after {failed.attempts} tries: {failed.shard}: {failed.error}", err=True)
    if result.failed:
        typer.echo(f"{len(result.failed)} shards failed; rerun the same command to try them again "
                   "(the written shards are skipped)", err=True)
        raise typer.Exit(1)
