"""``elkit link``: find and link the entities of texts; JSONL out, a table on screen, an optional HTML view."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from elkit.cli.app import error_console
from elkit.corpora import ReadReport
from elkit.corpora.texts import read_texts
from elkit.doc import NIL, Doc
from elkit.doc.task import doc_to_task
from elkit.errors import ConfigError
from elkit.progress import track
from elkit.threads import set_threads

__all__ = ["link"]

_TABLE_ROWS = 60


def _pipeline(model: Path | None, kb: Path | None, entities: Path | None, ner_model: Path | None,
              threshold: float | None, cache_dir: Path | None, labels: list[str] | None = None,
              linker: str = "general") -> Any:
    from elkit.linking import is_linker
    from elkit.linking.builder import create_simple
    from elkit.packaging import load

    if model is not None:
        if entities is not None:
            raise ConfigError("give --model or --entities, not both")
        nlp = load(model)
        linkers = [component for _, component in nlp.components if is_linker(component)]
        if not linkers:
            raise ConfigError(f"{model}: the pipeline has no entity linker")
        for linker in linkers:
            if kb is not None:
                linker.set_kb(kb)
            if threshold is not None:
                linker.threshold = threshold
        return nlp
    if entities is None and kb is None:
        raise ConfigError("give a trained pipeline (--model) or a knowledge base (--entities or --kb)")
    return create_simple(entities, kb=kb, ner_model=ner_model, threshold=threshold, cache_dir=cache_dir,
                         labels=labels, linker=linker, show_progress=True)  # type: ignore[arg-type]


def _kb_of(nlp: Any) -> Any:
    from elkit.linking import is_linker

    for _, component in nlp.components:
        if is_linker(component):
            return component.kb
    return None


def _record(doc: Doc, kb: Any, top_k: int) -> dict[str, Any]:
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


def link(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="Texts: .txt (one a line) or JSONL with 'text'."),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL file for the linked documents."),
    model: Path | None = typer.Option(None, "--model", "-m", help="A trained pipeline with an entity linker."),
    kb: Path | None = typer.Option(None, "--kb", help="A KB folder (replaces the model's KB, or is linked against)."),
    entities: Path | None = typer.Option(None, "--entities", "-e",
                                         help="An entities.jsonl: builds (and caches) a KB and a ready pipeline."),
    ner_model: Path | None = typer.Option(None, "--ner-model",
                                          help="With --entities/--kb: a trained NER pipeline finds the mentions."),
    labels: str | None = typer.Option(
        None, "--labels", help="With --entities/--kb: the zero-shot recognizer's labels, comma-separated "
        "(default: the KB's entity types, read as words)."),
    linker: str = typer.Option("general", "--linker", help="With --entities/--kb: 'general' (the shipped scorer, "
                               "no training) or 'self-trained' (trained on the KB itself)."),
    threshold: float | None = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                           help="Below this probability a mention gets NIL."),
    html_path: Path | None = typer.Option(None, "--html", help="Also write an HTML view here."),
    top_k: int = typer.Option(5, "--top-k", min=0, help="Candidates kept per mention in the output."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Documents per batch."),
    n_process: int = typer.Option(1, "--n-process", min=1, help="Worker processes."),
    threads: int | None = typer.Option(None, "--threads", min=1,
                                       help="CPU threads for torch (default: one per core)."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Cache for KBs and self-trained linkers."),
    table: bool = typer.Option(True, "--table/--no-table", help="Print the linked mentions as a table."),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad input lines instead of stopping."),
) -> None:
    """Find the entities in texts, link each to the knowledge base (or NIL), and write JSONL."""
    set_threads(threads)
    if linker not in ("general", "self-trained"):
        raise ConfigError(f"--linker must be 'general' or 'self-trained', got {linker!r}")
    names = [name.strip() for name in labels.split(",") if name.strip()] if labels is not None else None
    if labels is not None and not names:
        raise ConfigError("--labels is empty: give label names separated by commas")
    nlp = _pipeline(model, kb, entities, ner_model, threshold, cache_dir, names, linker)
    knowledge = _kb_of(nlp)
    report = ReadReport()
    items = read_texts(input_path, max_length=nlp.max_length, on_error="skip" if lenient else "raise",
                       report=report)
    for_texts, for_meta = itertools.tee(items)
    docs = nlp.pipe((text for text, _ in for_texts), batch_size=batch_size, n_process=n_process)
    kept: list[Doc] = []
    counts = {"documents": 0, "mentions": 0, "linked": 0, "nil": 0}
    started = time.perf_counter()

    def linked() -> Iterator[Doc]:
        for doc, (_, meta) in zip(docs, for_meta, strict=True):
            doc.meta.update(meta)
            yield doc

    with open(output, "w", encoding="utf-8") as stream:
        for doc in track(linked(), "linking", error_console):
            stream.write(json.dumps(_record(doc, knowledge, top_k), ensure_ascii=False) + "\n")
            counts["documents"] += 1
            counts["mentions"] += len(doc.ents)
            counts["linked"] += sum(span.is_linked for span in doc.ents)
            counts["nil"] += sum(span.kb_id == NIL for span in doc.ents)
            if table or html_path is not None:
                kept.append(doc)
    seconds = time.perf_counter() - started
    if table:
        _print_table(kept, knowledge)
    if html_path is not None:
        from elkit.render import render_html

        html_path.write_text(render_html(kept, knowledge, title=f"elkit link {input_path.name}"), encoding="utf-8")
        typer.echo(f"wrote the HTML view to {html_path}")
    typer.echo(f"linked {counts['documents']:,} documents in {seconds:.2f} s: {counts['mentions']:,} mentions, "
               f"{counts['linked']:,} linked, {counts['nil']:,} NIL; wrote {output}")
    if lenient and report.skipped_count:
        typer.echo(f"skipped {report.skipped_count:,} bad input lines", err=True)


def _print_table(docs: list[Doc], kb: Any) -> None:
    view = Table(title="linked mentions", show_lines=False)
    for column in ("doc", "mention", "label", "kb_id", "entity", "score"):
        view.add_column(column, justify="right" if column == "score" else "left", overflow="fold")
    rows = 0
    total = sum(len(doc.ents) for doc in docs)
    for number, doc in enumerate(docs):
        for span in doc.ents:
            if rows >= _TABLE_ROWS:
                break
            name = kb.get_entity(span.kb_id).name if span.is_linked and kb is not None and span.kb_id in kb else ""
            score = f"{span.link_score:.2f}" if span.link_score is not None else ""
            view.add_row(str(doc.meta.get("id", number + 1)), span.text, span.label, span.kb_id, name, score)
            rows += 1
    if total > rows:
        view.caption = f"first {rows} of {total:,} mentions; all are in the JSONL output"
    Console(soft_wrap=True).print(view)
