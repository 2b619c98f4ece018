"""``elkit agreement``: how far the annotators of a dataset agree (span F1, Cohen's and Fleiss' kappa, links)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from elkit.cli.common import DB_HELP, open_store, split_names

__all__ = ["agreement"]

_SNIPPET = 80


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET else flat[:_SNIPPET - 1] + "…"


def agreement(
    dataset: str = typer.Argument(..., help="Dataset whose annotators (sessions) answered the same texts."),
    sessions: list[str] = typer.Option([], "--sessions", help="Only these sessions (repeat or comma separate)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    top: int = typer.Option(10, "--top", min=0, help="Show this many texts with the most disagreement."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the whole report to this JSON file."),
) -> None:
    """Inter-annotator agreement: pairwise span F1 and Cohen's kappa, Fleiss' kappa, link agreement."""
    from elkit.annotate.agreement import compute_agreement

    names = split_names(sessions)
    report = compute_agreement(open_store(db), dataset, names or None)
    console = Console()
    typer.echo(f"agreement on {dataset!r}: {len(report.sessions)} annotators, {_count(report.texts, 'text')} compared")
    has_spans = any(pair.texts for pair in report.pairs) or not any(pair.mentions for pair in report.pairs)
    has_links = any(pair.mentions for pair in report.pairs)
    columns = ["pair"]
    columns += ["texts", "exact F1", "overlap F1", "Cohen's kappa"] if has_spans else []
    columns += ["mentions", "same id", "link kappa"] if has_links else []
    table = Table(title="pairs of annotators")
    for column in columns:
        table.add_column(column, justify="left" if column == "pair" else "right")
    for pair in report.pairs:
        row = [f"{pair.first or '-'} / {pair.second or '-'}"]
        if has_spans:
            row += [f"{pair.texts:,}", _number(pair.exact_f1), _number(pair.overlap_f1), _number(pair.cohen_kappa)]
        if has_links:
            row += [f"{pair.mentions:,}", _number(pair.link_agreement), _number(pair.link_kappa)]
        table.add_row(*row)
    console.print(table)
    parts = []
    if has_spans:
        parts += [f"Fleiss' kappa {_number(report.fleiss_kappa)} over {_count(report.fleiss_texts, 'text')}",
                  f"mean exact F1 {_number(report.mean_exact_f1)}",
                  f"mean overlap F1 {_number(report.mean_overlap_f1)}"]
    if report.links is not None:
        links = report.links
        parts.append(f"link agreement {_number(links.agreement)} over {_count(links.mentions, 'mention')} "
                     f"({links.unanimous:,} unanimous)")
    overall = " · ".join(parts)
    typer.echo(overall)
    for reason, count in report.skipped.items():
        typer.echo(f"skipped {count:,} {reason}")
    shown = [entry for entry in report.disagreements if entry.score > 0][:top]
    if shown:
        texts = Table(title=f"most disagreement (top {len(shown)})", show_lines=True)
        for column in ("text", "score", "annotations"):
            texts.add_column(column, justify="right" if column == "score" else "left")
        for entry in shown:
            annotations = "\n".join(f"{name or '-'}: {', '.join(found) or '(none)'}"
                                    for name, found in entry.annotations.items())
            texts.add_row(_snippet(entry.text), _number(entry.score), annotations)
        console.print(texts)
    elif top:
        typer.echo("no text with disagreement")
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote the report to {json_path}")
