"""``elkit debug data``: check training data against a config before training on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from elkit.cli.common import read_docs
from elkit.config import load_config
from elkit.corpora.checks import DataCheck, check_data

__all__ = ["debug_data"]


def _max_width(config: Any) -> int | None:
    widths = [int(component.settings.get("max_width", 10)) for component in config.components.values()
              if component.factory in ("elkit.SpanNER.v1", "elkit.ZeroShotNER.v1")]
    return min(widths) if widths else None


def _kb_lookup(config: Any, console: Console) -> Any:
    """`kb.resolve`-based id check for the config's linker KB when its folder exists (None otherwise)."""
    for component in config.components.values():
        if component.factory != "elkit.EntityLinker.v1":
            continue
        setting = component.settings.get("kb")
        folder = Path(setting["path"] if isinstance(setting, dict) else setting) if setting else None
        if folder is None or not (folder / "manifest.json").is_file():
            console.print(f"[dim]the linker's KB ({folder}) is not built yet: gold ids are not checked[/dim]")
            return None
        from elkit.kb import open_kb

        kb = open_kb(folder)
        return lambda entity_id: kb.resolve(entity_id) is not None
    return None


def debug_data(
    config_path: Path = typer.Argument(..., metavar="CONFIG", help="The pipeline config you will train."),
    train_path: Path = typer.Option(..., "--train", help="Training corpus."),
    dev_path: Path = typer.Option(..., "--dev", help="Development corpus."),
    format: str | None = typer.Option(None, "--format", help="Corpus format (detected when left out)."),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad corpus records."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Check a training and a dev corpus against a config; exit 1 when something would hurt training.

    Label counts, labels only in dev, entities across sentences or longer than max_width, overlapping spans,
    train / dev overlap, and for a linker, gold ids the KB lacks.
    """
    console = Console(soft_wrap=True)
    config = load_config(config_path)
    train_docs = read_docs(train_path, format, lenient)
    dev_docs = read_docs(dev_path, format, lenient)
    found = check_data(train_docs, dev_docs, max_width=_max_width(config), known_id=_kb_lookup(config, console))
    if as_json:
        typer.echo(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
    else:
        _show(found, console)
    if found.problems:
        raise typer.Exit(1)


def _show(found: DataCheck, console: Console) -> None:
    sizes = Table(title="corpora")
    for column in ("", "documents", "tokens", "entities", "no entity", "linked", "NIL", "no id"):
        sizes.add_column(column, justify="right")
    for name, split in (("train", found.train), ("dev", found.dev)):
        sizes.add_row(name, *(f"{value:,}" for value in (split.documents, split.tokens, split.entities,
                                                         split.empty_documents, split.linked, split.nil,
                                                         split.unlinked)))
    console.print(sizes)
    labels = Table(title="entities per label")
    for column in ("label", "train", "dev"):
        labels.add_column(column, justify="left" if column == "label" else "right")
    for label in sorted(set(found.train.labels) | set(found.dev.labels)):
        labels.add_row(label, f"{found.train.labels.get(label, 0):,}", f"{found.dev.labels.get(label, 0):,}")
    console.print(labels)
    if found.only_in_train:
        console.print(f"labels dev never tests: {', '.join(found.only_in_train)}")
    for name, split in (("train", found.train), ("dev", found.dev)):
        for finding, examples in split.examples.items():
            console.print(f"{name} {finding.replace('_', ' ')}: " + "; ".join(examples))
    if found.problems:
        console.print("[red]problems:[/red]")
        for line in found.problems:
            console.print(f"  - {line}")
    else:
        console.print("[green]no problems found[/green]")
