"""``elkit apply``: run a pipeline over texts and write annotated documents as JSONL."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import typer

from elkit.cli.app import error_console, state
from elkit.cli.common import gpu_device, gpu_id_option
from elkit.cli.sharded import address_option, engine_option, is_sharded, retries_option, run_sharded, workers_option
from elkit.corpora import ReadReport
from elkit.corpora.jsonl import write_jsonl
from elkit.corpora.texts import read_texts
from elkit.doc import Doc
from elkit.errors import ConfigError
from elkit.packaging import load
from elkit.progress import track
from elkit.shards import ShardJob
from elkit.threads import set_threads

__all__ = ["apply"]



def apply(
    model: Path = typer.Argument(..., help="A saved pipeline directory or a pipeline config (.toml)."),
    input_path: Path = typer.Argument(..., metavar="INPUT", help="Texts: .txt (one a line) or JSONL with 'text'."),
    output_path: Path = typer.Argument(..., metavar="OUTPUT",
                                       help="JSONL file to write the documents to (a folder for a sharded run)."),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="Documents per batch."),
    n_process: int = typer.Option(1, "--n-process", min=1, help="Worker processes."),
    threads: int | None = typer.Option(None, "--threads", min=1,
                                       help="CPU threads for torch (default: one per core)."),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad input lines instead of stopping."),
    max_length: int | None = typer.Option(None, "--max-length", min=1,
                                          help="Longest text accepted, in characters (default: the pipeline's, "
                                          "1,000,000 for a new one); longer texts are an error, never cut."),
    html_path: Path | None = typer.Option(None, "--html", help="Also write an HTML view of the documents here."),
    engine: str | None = engine_option(),
    workers: int = workers_option(),
    address: str | None = address_option(),
    retries: int = retries_option(),
    gpu_id: int | None = gpu_id_option(),
) -> None:
    """Run a pipeline over texts and write each annotated document as a Prodigy-style JSONL task."""
    device = gpu_device(gpu_id)
    if is_sharded(input_path, engine):
        if html_path is not None:
            raise ConfigError("--html is for one input file, not a sharded run")
        job = ShardJob(mode="apply", model=model, batch_size=batch_size, threads=threads, lenient=lenient,
                       max_length=max_length, code=state["code"], device=device)
        run_sharded(job, input_path, output_path, engine, workers, address, retries)
        return
    set_threads(threads)
    nlp = load(model, device=device)
    if max_length is not None:
        nlp.max_length = max_length
    report = ReadReport()
    items = read_texts(input_path, max_length=nlp.max_length, on_error="skip" if lenient else "raise",
                       report=report)
    for_texts, for_meta = itertools.tee(items)
    docs = nlp.pipe((text for text, _ in for_texts), batch_size=batch_size, n_process=n_process)
    labels: Counter[str] = Counter()
    linked = 0
    started = time.perf_counter()

    kept: list[Doc] = []

    def annotated() -> Iterator[Doc]:
        nonlocal linked
        for doc, (_, meta) in zip(docs, for_meta, strict=True):
            doc.meta.update(meta)
            labels.update(span.label for span in doc.ents)
            linked += sum(span.is_linked for span in doc.ents)
            if html_path is not None:
                kept.append(doc)
            yield doc

    with open(output_path, "w", encoding="utf-8") as output:
        written = write_jsonl(track(annotated(), f"{' → '.join(nlp.pipe_names) or 'tokenizer'}", error_console),
                              output)
    seconds = time.perf_counter() - started
    if html_path is not None:
        from elkit.render import render_html
        from elkit.shards import kb_of

        html_path.write_text(render_html(kept, kb_of(nlp), title=f"elkit apply {input_path.name}"), encoding="utf-8")
        typer.echo(f"wrote the HTML view to {html_path}")
    typer.echo(f"pipeline: {', '.join(nlp.pipe_names) or '(tokenizer only)'}")
    typer.echo(f"wrote {written:,} documents to {output_path} in {seconds:.2f} s")
    per_label = ", ".join(f"{label} {count:,}" for label, count in sorted(labels.items())) or "none"
    typer.echo(f"entities: {sum(labels.values()):,} ({per_label}); linked: {linked:,}")
    if lenient:
        typer.echo(f"skipped {report.skipped_count:,} bad input lines", err=True)
