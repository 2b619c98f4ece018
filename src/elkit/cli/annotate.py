"""``elkit annotate`` and the dataset commands (db-in, db-out, drop, data-to-spacy, train-curve)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from elkit.cli.app import error_console
from elkit.cli.common import DB_HELP, open_store, parse_overrides, split_names
from elkit.cli.material import training_material
from elkit.errors import DataError

__all__ = ["annotate", "data_to_spacy", "db_in", "db_out", "drop", "train_curve"]


def annotate(
    recipe: str = typer.Argument(..., help="ner.manual, ner.correct, ner.teach, el.manual or review."),
    dataset: str = typer.Argument(..., help="Dataset the answers are stored in."),
    source: str = typer.Argument(..., help="Texts (.jsonl or .txt); for review, input datasets, comma separated."),
    label: list[str] = typer.Option([], "--label", "-l", help="Label(s) to annotate (repeat or comma separate)."),
    patterns: Path | None = typer.Option(None, "--patterns", help="patterns.jsonl whose matches are pre-marked."),
    model: Path | None = typer.Option(None, "--model", "-m", help="A trained pipeline (ner.correct, ner.teach)."),
    kb: Path | None = typer.Option(None, "--kb", help="el.manual: a KB folder or an entities.jsonl."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback unless you say otherwise; "
                             "any other needs --auth)."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port."),
    auth: list[str] = typer.Option([], "--auth", help="Basic-auth user:password (repeat for more users; or set "
                                   "$ELKIT_ANNOTATE_AUTH). Each user can use only the session of their own name."),
    allowed_host: list[str] = typer.Option([], "--allowed-host", help="Another name the Host header may carry "
                                           "(a DNS name or proxy the annotators use); loopback names always work."),
    overlap: bool = typer.Option(True, "--overlap/--no-overlap",
                                 help="Every session sees every task, or each task goes to one session."),
    batch_size: int = typer.Option(10, "--batch-size", min=1, max=100, help="Tasks per request."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="el.manual: cache for KBs and linkers."),
) -> None:
    """Start the annotation server and its web UI (open http://HOST:PORT/?session=NAME)."""
    from elkit.annotate.access import AccessSettings
    from elkit.annotate.controller import Controller
    from elkit.annotate.recipes import RecipeOptions, build_recipe
    from elkit.annotate.server import serve
    from elkit.annotate.store import check_name

    check_name(dataset)
    access = AccessSettings.build(host, auth, allowed_host)
    store = open_store(db)
    options = RecipeOptions(dataset, source, labels=tuple(split_names(label)), patterns=patterns, model=model, kb=kb,
                            store=store, cache_dir=cache_dir)
    controller = Controller(build_recipe(recipe, options), store, overlap=overlap, batch_size=batch_size)
    serve(controller, host=host, port=port, access=access)


def db_in(
    dataset: str = typer.Argument(..., help="Dataset to add the answers to (created when missing)."),
    path: Path = typer.Argument(..., help="JSONL of answered tasks (Prodigy's db-out format, or plain tasks)."),
    answer: str = typer.Option("accept", "--answer", help="Answer for tasks that have none."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Import answers; every line is checked first, and nothing is written if one is bad."""
    from elkit.annotate.data import import_answers, read_answers_file
    from elkit.annotate.store import check_name

    check_name(dataset)
    tasks = read_answers_file(path, default_answer=answer)
    if not tasks:
        raise DataError(f"{path}: no tasks")
    new = import_answers(open_store(db), dataset, tasks)
    typer.echo(f"imported {len(tasks):,} answers into {dataset!r} ({new:,} new, {len(tasks) - new:,} replaced)")


def db_out(
    dataset: str = typer.Argument(..., help="Dataset to export."),
    output: Path | None = typer.Argument(None, help="JSONL file (default: standard output)."),
    answer: str | None = typer.Option(None, "--answer", help="Only answers of this kind (accept, reject, ignore)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Export a dataset as Prodigy-compatible JSONL."""
    from elkit.annotate.data import export_answers

    store = open_store(db)
    if output is None:
        count = export_answers(store, dataset, sys.stdout, answer=answer)
    else:
        with open(output, "w", encoding="utf-8") as stream:
            count = export_answers(store, dataset, stream, answer=answer)
    error_console.print(f"exported {count:,} answers from {dataset!r}" + (f" to {output}" if output else ""))


def drop(
    dataset: str = typer.Argument(..., help="Dataset to delete, with all its answers."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Delete a dataset and its answers."""
    count = open_store(db).drop_dataset(dataset)
    typer.echo(f"dropped {dataset!r} ({count:,} answers)")


def data_to_spacy(
    output: Path = typer.Argument(..., help="Folder for train.spacy and dev.spacy."),
    datasets: list[str] = typer.Option(..., "--ner", help="Datasets to export (repeat or comma separate)."),
    eval_split: float = typer.Option(0.2, "--eval-split", min=0.0, max=0.9, help="Share held out as dev."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Export accepted annotations as spaCy DocBin train / dev files (binary answers are left out)."""
    from elkit.annotate.data import load_examples, split_dev
    from elkit.corpora.docbin import write_docbin

    data = load_examples(open_store(db), split_names(datasets))
    if not data.complete:
        raise DataError("no accepted manual annotations to export")
    train_docs, dev_docs = split_dev(data.complete, eval_split) if eval_split > 0 else (data.complete, [])
    output.mkdir(parents=True, exist_ok=True)
    written = write_docbin(train_docs, output / "train.spacy")
    held = write_docbin(dev_docs, output / "dev.spacy")
    for reason, count in data.skipped.items():
        error_console.print(f"left out {count:,} {reason}")
    typer.echo(f"wrote {written:,} training and {held:,} dev documents to {output}")


def train_curve(
    config: Path = typer.Argument(..., help="Pipeline config (.toml) with a [training] section."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the runs, curve.json and curve.png."),
    datasets: list[str] = typer.Option([], "--dataset", help="Train on these datasets (repeat or comma separate)."),
    train_path: Path | None = typer.Option(None, "--train", help="Or a training corpus file."),
    dev_path: Path | None = typer.Option(None, "--dev", help="Dev corpus (default: split off the datasets)."),
    binary: bool = typer.Option(False, "--binary", help="Learn from accept / reject answers too."),
    eval_split: float = typer.Option(0.2, "--eval-split", min=0.05, max=0.9, help="Dev share without --dev."),
    samples: int = typer.Option(4, "--n-samples", min=2, max=10, help="Points on the curve (4: 25/50/75/100%)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    override: list[str] = typer.Option([], "--set", help="Config override, e.g. --set training.max_epochs=5"),
) -> None:
    """Train on growing shares of the data and print the dev F1 at each: does more data still help?"""
    from elkit.training.curve import train_curve as run_curve

    train_items, dev_docs = training_material(datasets, train_path, dev_path, binary, eval_split, db)
    points = run_curve(config, train_items, dev_docs, output, samples=samples, overrides=parse_overrides(override),
                       console=error_console)
    table = Table(title="training curve")
    for column in ("share", "examples", "ents_f", "change"):
        table.add_column(column, justify="right")
    previous = None
    for point in points:
        change = "" if previous is None else f"{point['ents_f'] - previous:+.4f}"
        table.add_row(f"{point['share']:.0%}", f"{point['examples']:,}", f"{point['ents_f']:.4f}", change)
        previous = point["ents_f"]
    Console().print(table)
    typer.echo(f"saved the curve to {output / 'curve.png'} and {output / 'curve.json'}")
