"""What several commands share: option parsing, the answer store, reading corpus files, the datasets table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from elkit.corpora import ReadReport, read_corpus
from elkit.doc import Doc
from elkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    from elkit.annotate import Store

__all__ = ["DB_HELP", "GPU_ID_HELP", "dataset_stats", "gpu_device", "gpu_id_option", "open_store", "parse_overrides",
           "raw_docs", "read_docs", "split_names", "take_code_options"]

DB_HELP = "Database: a SQLAlchemy URL or SQLite file (default $ELKIT_DATABASE, else $ELKIT_HOME/elkit.db)."


def take_code_options(arguments: list[str]) -> tuple[list[str], list[str]]:
    """Split ``--code FILE`` / ``--code=FILE`` (anywhere on the command line) from the other arguments.

    Returns:
        ``(files, other arguments)``.

    Raises:
        ConfigError: ``--code`` is the last argument.
    """
    files: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        if argument == "--":
            rest.extend(arguments[position:])
            break
        if argument == "--code":
            if position + 1 >= len(arguments):
                raise ConfigError("--code needs a Python file")
            files.append(arguments[position + 1])
            position += 2
            continue
        if argument.startswith("--code="):
            files.append(argument.removeprefix("--code="))
        else:
            rest.append(argument)
        position += 1
    return files, rest


def split_names(values: list[str]) -> list[str]:
    """Names given by repeating an option and / or separating them with commas, stripped, blanks dropped."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def open_store(db: str | None) -> Store:
    """The annotation store at ``db`` (the default database when None)."""
    from elkit.annotate import Store

    return Store(db)


def parse_overrides(values: list[str]) -> dict[str, object]:
    """``section.key=value`` strings as a dict; values are parsed as JSON when they can be.

    Raises:
        ConfigError: A string without ``=`` or without a key.
    """
    overrides: dict[str, object] = {}
    for item in values:
        key, separator, raw = item.partition("=")
        if not separator or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        try:
            overrides[key] = json.loads(raw)
        except ValueError:
            overrides[key] = raw
    return overrides


def read_docs(path: Path, format: str | None, lenient: bool) -> list[Doc]:
    """Every document of a corpus file; with ``lenient``, bad records are skipped and counted on stderr.

    Raises:
        DataError: The file has no documents (or, strict, a bad record).
    """
    report = ReadReport()
    docs = list(read_corpus(path, format, on_error="skip" if lenient else "raise", report=report))
    if lenient and report.skipped_count:
        typer.echo(f"{path}: skipped {report.skipped_count:,} bad records", err=True)
    if not docs:
        raise DataError(f"{path}: no documents")
    return docs


def raw_docs(path: Path, lenient: bool) -> list[Doc]:
    """Documents of a text file (.txt, one text a line, or JSONL with "text") or of any corpus, with sentences.

    Raises:
        DataError: The file has no documents (or, strict, a bad record).
    """
    from elkit.corpora.formats import detect_format
    from elkit.corpora.texts import read_texts
    from elkit.errors import FormatError
    from elkit.tokenize import Tokenizer
    from elkit.tokenize.sentences import split_sentences

    try:
        corpus_format: str | None = detect_format(path)
    except FormatError:
        corpus_format = None
    if corpus_format is not None:  # a corpus, or JSONL tasks (a task may be just {"text": ...})
        docs = read_docs(path, corpus_format, lenient)
    else:
        report = ReadReport()
        tokenizer = Tokenizer()
        docs = [tokenizer(text) for text, _ in read_texts(path, on_error="skip" if lenient else "raise",
                                                          report=report)]
        if not docs:
            raise DataError(f"{path}: no texts")
    for doc in docs:
        if not doc.has_sentences and len(doc):
            doc.set_sentence_starts(split_sentences(doc))
    return docs


def dataset_stats(dataset: str | None, db: str | None) -> None:
    """Print the datasets in the database, or one dataset's counts (``elkit stats`` without a corpus file).

    For one dataset with entity links (el.manual or imported Prodigy entity-linking answers), also its linked
    mentions, distinct entities and NIL share, counted on the gold documents training would use.

    Raises:
        DataError: ``dataset`` is not a dataset in the database (nor, without ``--db``, an existing file).
    """
    store = open_store(db)
    if dataset is not None and dataset not in store:
        known = ", ".join(store.datasets()) or "none"
        if Path(dataset).exists():
            raise DataError(f"no dataset {dataset!r} in {store!r} (datasets: {known}); "
                            f"to count the corpus file {dataset}, leave out --db")
        raise DataError(f"{dataset!r} is neither a corpus file (no such path) nor a dataset in {store!r} "
                        f"(datasets: {known})")
    console = Console()
    names = [dataset] if dataset else store.datasets()
    table = Table(title=f"datasets in {store!r}")
    for column in ("dataset", "examples", "inputs", "accept", "reject", "ignore", "sessions", "created"):
        table.add_column(column)
    for name in names:
        found = store.stats(name)
        table.add_row(name, *(f"{found[key]:,}" for key in ("examples", "inputs", "accept", "reject", "ignore")),
                      ", ".join(session or "-" for session in found["sessions"]), found["created"] or "")
    console.print(table)
    if dataset is not None:  # one dataset: its entity links too (this reads its answers, so not for the listing)
        from elkit.annotate.data import link_counts

        links = link_counts(store, dataset)
        if links.mentions:
            typer.echo(f"links: {links.mentions:,} linked mentions of {links.entities:,} distinct entities, "
                       f"{links.nil:,} NIL ({links.nil_share:.1%}); {links.unlinked:,} mentions unlinked")


GPU_ID_HELP = ("Run the torch components on this CUDA device (0, 1, ...); -1: the CPU. Overrides the config's "
               "[nlp] device; a saved pipeline runs on the CPU unless given.")


def gpu_id_option() -> Any:
    """The ``--gpu-id N`` option of ``train``, ``apply``, ``link`` and ``evaluate`` (None when not given)."""
    return typer.Option(None, "--gpu-id", min=-1, help=GPU_ID_HELP)


def gpu_device(gpu_id: int | None) -> str | None:
    """The device ``--gpu-id`` asks for ("cpu" or "cuda:N"), checked on this machine; None when it is not given.

    Raises:
        ConfigError: A CUDA device where torch sees none, or a device number this machine does not have.
    """
    if gpu_id is None:
        return None
    from elkit.devices import resolve_device

    return str(resolve_device(gpu_id=gpu_id))
