"""Shards on disk: finding them, reading their texts, naming and writing their outputs atomically.

An input is a folder (every ``.jsonl``, ``.jsonl.gz``, ``.txt``, ``.txt.gz`` and ``.parquet`` file in it), a glob
pattern, or one file. Each input shard gets one output shard, ``<output>/<name>.jsonl`` where ``<name>`` is the
input's file name without its suffixes. An output is written under a temporary name in the same folder and renamed
into place when complete, so a finished output is always whole and an interrupted run leaves only temporary files,
which the next run replaces.
"""

from __future__ import annotations

import glob
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from elkit.corpora.texts import read_texts
from elkit.errors import ConfigError, FormatError
from elkit.extras import require
from elkit.io.lines import OnError, ReadReport, handle

__all__ = ["SHARD_SUFFIXES", "find_shards", "output_name", "output_path", "read_shard", "remove_partial",
           "write_atomically"]

SHARD_SUFFIXES = (".jsonl", ".jsonl.gz", ".txt", ".txt.gz", ".parquet")
"""The file names read as shards."""

_TEMPORARY = ".elkit-partial-"


def _is_shard(path: Path) -> bool:
    return path.is_file() and path.name.endswith(SHARD_SUFFIXES) and not path.name.startswith(".")


def find_shards(source: str | Path) -> list[Path]:
    """The input shards of ``source`` (a folder, a glob pattern or a file), sorted by path.

    Raises:
        ConfigError: Nothing matches, or two shards would write the same output name.
    """
    text = str(source)
    path = Path(text)
    if path.is_dir():
        shards = sorted(item for item in path.iterdir() if _is_shard(item))
    elif path.is_file():
        shards = [path]
    else:
        shards = sorted(Path(item) for item in glob.glob(text, recursive=True) if _is_shard(Path(item)))
    if not shards:
        raise ConfigError(f"{text}: no input shards (a folder or glob of {', '.join(SHARD_SUFFIXES)} files)")
    names: dict[str, Path] = {}
    for shard in shards:
        other = names.setdefault(output_name(shard), shard)
        if other != shard:
            raise ConfigError(f"{other} and {shard} would both write {output_name(shard)}; rename one")
    return shards


def output_name(shard: Path) -> str:
    """The output file name of an input shard: its name without suffixes, then ``.jsonl``."""
    name = shard.name
    for suffix in sorted(SHARD_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return name[: -len(suffix)] + ".jsonl"
    return name + ".jsonl"


def output_path(shard: Path, output: Path) -> Path:
    """Where the output of ``shard`` goes in the folder ``output``."""
    return output / output_name(shard)


def read_shard(shard: Path, *, max_length: int, on_error: OnError = "raise", report: ReadReport | None = None
               ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Stream a shard's (text, meta) pairs; every field but "text" goes into meta, with ``source`` = file:row.

    In Parquet, values JSON cannot hold (dates, decimals, bytes) are kept as their strings.

    Raises:
        FormatError: A bad record (strict), naming the file and line (or row); a Parquet file without a "text"
            column.
        ConfigError: A Parquet file when pyarrow is not installed.
    """
    if not shard.name.endswith(".parquet"):
        yield from read_texts(shard, max_length=max_length, on_error=on_error, report=report)
        return
    parquet = require("pyarrow.parquet", "ray", "reading Parquet shards")
    table = parquet.ParquetFile(shard)
    if "text" not in table.schema_arrow.names:
        raise FormatError(f"no 'text' column (columns: {', '.join(table.schema_arrow.names)})", path=shard)
    row = 0
    for batch in table.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            row += 1
            text = record.pop("text")
            problem = None
            if not isinstance(text, str) or not text.strip():
                problem = "missing or empty 'text'"
            elif len(text) > max_length:
                problem = f"{len(text):,} characters is over the limit of {max_length:,}"
            if problem is not None:
                handle(FormatError(problem, path=shard, line=row, field="text"), on_error, report)
                continue
            meta = json.loads(json.dumps(record, default=str))  # dates, decimals and the like become strings
            meta.setdefault("source", f"{shard}:{row}")
            yield text, meta


def write_atomically(target: Path, lines: Iterable[str]) -> int:
    """Write ``lines`` (each one JSON record, without its line break) to ``target`` through a temporary file.

    The temporary file sits beside ``target`` and is renamed onto it once complete and flushed to disk; on an
    error it is removed and ``target`` is left as it was.

    Returns:
        The number of lines written.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{_TEMPORARY}{uuid.uuid4().hex}-{target.name}")
    count = 0
    try:
        with open(temporary, "w", encoding="utf-8") as stream:
            for line in lines:
                stream.write(line + "\n")
                count += 1
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return count


def remove_partial(output: Path) -> int:
    """Remove the temporary files an interrupted run left in ``output``; returns how many."""
    removed = 0
    if output.is_dir():
        for item in output.iterdir():
            if item.name.startswith(_TEMPORARY):
                item.unlink(missing_ok=True)
                removed += 1
    return removed
