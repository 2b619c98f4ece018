"""``elkit stats`` and ``elkit convert``: corpus counts and format conversion."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from elkit.cli.app import error_console
from elkit.cli.common import dataset_stats
from elkit.corpora import FORMATS, ReadReport, corpus_stats, detect_format, format_from_suffix, read_corpus
from elkit.corpora.formats import write_corpus
from elkit.errors import ConfigError
from elkit.progress import track

__all__ = ["convert", "stats"]

_FORMAT_HELP = f"One of: {', '.join(FORMATS)}. Detected from the content when left out."


def _check_format(name: str | None) -> None:
    if name is not None and name not in FORMATS:
        raise ConfigError(f"unknown format {name!r}: use one of {', '.join(FORMATS)}")


def _print_report(report: ReadReport, lenient: bool) -> None:
    for message in report.warnings[:5]:
        typer.echo(f"warning: {message}", err=True)
    if report.warning_count > 5:
        typer.echo(f"warning: ... {report.warning_count - 5} more warnings", err=True)
    if lenient:
        for error in report.skipped[:5]:
            typer.echo(f"skipped: {error}", err=True)
        typer.echo(f"skipped {report.skipped_count:,} bad records", err=True)


def stats(
    target: str | None = typer.Argument(
        None, metavar="[FILE|DATASET]",
        help="A corpus file of any supported format, or a dataset in the annotation database (none: list them)."),
    format: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad records instead of stopping."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
    db: str | None = typer.Option(None, "--db", help="Annotation database (SQLAlchemy URL or SQLite file)."),
) -> None:
    """Count a corpus file's documents, tokens, entities and links; or show the annotation datasets' answers."""
    if target is None or db is not None or not Path(target).exists():
        dataset_stats(target, db)
        return
    path = Path(target)
    _check_format(format)
    chosen = format or detect_format(path)
    report = ReadReport()
    docs = read_corpus(path, chosen, on_error="skip" if lenient else "raise", report=report)
    counts = corpus_stats(track(docs, f"reading {path.name}", error_console))
    if as_json:
        typer.echo(json.dumps({"file": str(path), "format": chosen, **counts.to_dict(),
                               "skipped": report.skipped_count}, indent=2))
    else:
        rows = [("file", str(path)), ("format", chosen), ("documents", f"{counts.documents:,}"),
                ("sentences", f"{counts.sentences:,}"), ("tokens", f"{counts.tokens:,}"),
                ("entities", f"{counts.entities:,}")]
        rows += [(f"  {label or '(none)'}", f"{count:,}") for label, count in sorted(counts.labels.items())]
        rows += [("linked", f"{counts.linked:,}"), ("NIL", f"{counts.nil:,}"), ("unlinked", f"{counts.unlinked:,}")]
        width = max(len(key) for key, _ in rows)
        for key, value in rows:
            typer.echo(f"{key:<{width}}  {value}")
    _print_report(report, lenient)


def convert(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="The corpus file to read."),
    output_path: Path = typer.Argument(..., metavar="OUTPUT", help="The file to write."),
    from_format: str | None = typer.Option(None, "--from", help=_FORMAT_HELP),
    to_format: str | None = typer.Option(
        None, "--to", help=f"One of: {', '.join(FORMATS)}. Taken from OUTPUT's suffix when left out."
    ),
    scheme: str | None = typer.Option(None, "--scheme", help="CoNLL tag scheme to write: iob1, iob2 or biluo."),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad records instead of stopping."),
) -> None:
    """Convert a corpus between CoNLL, PubTator, AIDA TSV, Prodigy JSONL and spaCy DocBin."""
    _check_format(from_format)
    _check_format(to_format)
    target = to_format or format_from_suffix(output_path)
    if target is None:
        raise ConfigError(f"cannot tell the output format from {output_path.name!r}; pass --to")
    options = {}
    if scheme is not None:
        if target != "conll" or scheme not in ("iob1", "iob2", "biluo"):
            raise ConfigError("--scheme applies to CoNLL output and must be iob1, iob2 or biluo")
        options["scheme"] = scheme
    source = from_format or detect_format(input_path)
    report = ReadReport()
    docs = read_corpus(input_path, source, on_error="skip" if lenient else "raise", report=report)
    written = write_corpus(track(docs, f"converting {input_path.name}", error_console), output_path, target,
                           **options)
    typer.echo(f"wrote {written:,} documents ({source} → {target}) to {output_path}")
    _print_report(report, lenient)
