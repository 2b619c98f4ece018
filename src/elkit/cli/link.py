"""``elkit link``: find and link the entities of texts; JSONL out, a table on screen, an optional HTML view."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import typer
from rich.console import Console
from rich.table import Table

from elkit.cli.app import error_console, state
from elkit.cli.common import gpu_device, gpu_id_option
from elkit.cli.sharded import address_option, engine_option, is_sharded, retries_option, run_sharded, workers_option
from elkit.corpora import ReadReport
from elkit.corpora.texts import read_texts
from elkit.doc import NIL, Doc
from elkit.errors import ConfigError
from elkit.progress import track
from elkit.settings import settings_error
from elkit.shards import ShardJob, kb_of, link_record
from elkit.threads import set_threads

__all__ = ["link"]

_TABLE_ROWS = 60


def link(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="Texts: .txt (one a line) or JSONL with 'text'."),
    output: Path = typer.Option(..., "--output", "-o",
                                help="JSONL file for the linked documents (a folder for a sharded run)."),
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
    entity_url: str | None = typer.Option(None, "--entity-url", help="With --html: each entity's page, {id} standing "
                                          "for its id (https://www.wikidata.org/wiki/{id}); a KB record's own URL "
                                          "comes first."),
    top_k: int = typer.Option(5, "--top-k", min=0, help="Candidates kept per mention in the output."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Documents per batch."),
    n_process: int = typer.Option(1, "--n-process", min=1, help="Worker processes."),
    threads: int | None = typer.Option(None, "--threads", min=1,
                                       help="CPU threads for torch (default: one per core)."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Cache for KBs and self-trained linkers."),
    precompute_embeddings: bool = typer.Option(
        False, "--precompute-embeddings", help="With --entities/--kb and the general linker: encode every entity "
        "of the KB once (kept in the cache) and read the vectors while linking; pays off over many documents."),
    table: bool = typer.Option(True, "--table/--no-table", help="Print the linked mentions as a table."),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad input lines instead of stopping."),
    max_length: int | None = typer.Option(None, "--max-length", min=1,
                                          help="Longest text accepted, in characters (default: the pipeline's, "
                                          "1,000,000 for a new one); longer texts are an error, never cut."),
    engine: str | None = engine_option(),
    workers: int = workers_option(),
    address: str | None = address_option(),
    retries: int = retries_option(),
    gpu_id: int | None = gpu_id_option(),
) -> None:
    """Find the entities in texts, link each to the knowledge base (or NIL), and write JSONL."""
    if linker not in ("general", "self-trained"):
        raise ConfigError(f"--linker must be 'general' or 'self-trained', got {linker!r}")
    if entity_url is not None and ("{id}" not in entity_url or not entity_url.startswith(("http://", "https://"))):
        raise ConfigError(f"--entity-url must be an http(s) URL with {{id}} in it, got {entity_url!r}")
    names = [name.strip() for name in labels.split(",") if name.strip()] if labels is not None else None
    if labels is not None and not names:
        raise ConfigError("--labels is empty: give label names separated by commas")
    try:
        job = ShardJob(mode="link", model=model, kb=kb, entities=entities, ner_model=ner_model, labels=names,
                       linker=linker, threshold=threshold, cache_dir=cache_dir, top_k=top_k, batch_size=batch_size,
                       threads=threads, lenient=lenient, max_length=max_length, code=state["code"],
                       device=gpu_device(gpu_id), precompute_embeddings=precompute_embeddings)
    except pydantic.ValidationError as error:
        raise settings_error("elkit link", error) from None
    if is_sharded(input_path, engine):
        if precompute_embeddings:
            job.load(show_progress=True)  # once here, so the workers find the vectors instead of all building them
        run_sharded(job, input_path, output, engine, workers, address, retries)
        return
    set_threads(threads)
    nlp = job.load(show_progress=True)
    knowledge = kb_of(nlp)
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
            stream.write(json.dumps(link_record(doc, knowledge, top_k), ensure_ascii=False) + "\n")
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

        page = render_html(kept, knowledge, title=f"elkit link {input_path.name}", url_pattern=entity_url,
                           top_k=max(top_k, 1))
        html_path.write_text(page, encoding="utf-8")
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
