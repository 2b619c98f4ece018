"""``elkit kb build | info | embed | query``: build, inspect, embed and query knowledge bases."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from elkit.cli.app import error_console
from elkit.corpora import read_corpus
from elkit.errors import ConfigError
from elkit.kb import AliasNormalizer, KBBuilder, open_kb
from elkit.kb.csv_source import read_entities_csv
from elkit.kb.enrich import mention_alias_counts
from elkit.kb.sources import read_alias_table, read_entities_jsonl, read_synonyms
from elkit.progress import progress_bar, track

__all__ = ["build", "embed", "info", "query"]

GENERATORS = ("exact", "normalized", "fuzzy", "dense")


def _stage(message: str) -> None:
    error_console.print(f"[dim]… {message}[/dim]")


def build(
    output: Path = typer.Argument(..., help="The KB folder to create."),
    entities: list[Path] = typer.Option([], "--entities", "-e", help="GLiNKER-style entities.jsonl (repeatable)."),
    entities_csv: list[Path] = typer.Option(
        [], "--csv", help="Entities as a headerless CSV: id,name,description, one a line (repeatable)."
    ),
    aliases: list[Path] = typer.Option([], "--aliases", "-a", help="Alias table, TSV or CSV with a header."),
    synonyms: list[Path] = typer.Option([], "--synonyms", "-s", help="Synonym vocabulary ID[|ID]||name|syn..."),
    spacy_kb: Path | None = typer.Option(None, "--spacy-kb", help="A spaCy KB folder (InMemoryLookupKB.to_disk)."),
    mentions: list[Path] = typer.Option(
        [], "--mentions", "-m", help="A linked corpus whose mention → gold id pairs become counted aliases."
    ),
    popularity_field: str = typer.Option("popularity", help="entities.jsonl key holding popularity."),
    type_field: str = typer.Option("entity_type", help="entities.jsonl key holding the type(s)."),
    numeric_id_prefix: str = typer.Option("", help="Prefix for all-digit synonym ids (OMIM: for MEDIC)."),
    synonym_type: str = typer.Option("", help="A type given to every synonym-vocabulary entity."),
    singularize: bool = typer.Option(False, help="Normalised keys make words singular."),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad records instead of stopping."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing KB folder."),
) -> None:
    """Build a disk-backed KB from entities, alias tables, synonym vocabularies, a spaCy KB and corpora."""
    if not (entities or entities_csv or synonyms or spacy_kb):
        raise ConfigError("give at least one entity source: --entities, --csv, --synonyms or --spacy-kb")
    on_error = "skip" if lenient else "raise"
    builder = KBBuilder(AliasNormalizer(singularize=singularize), on_error=on_error)
    read_report = builder.report.read
    for path in entities:
        records = read_entities_jsonl(
            path, popularity_field=popularity_field, type_field=type_field, on_error=on_error, report=read_report
        )
        builder.add_records(track(records, f"entities {path.name}", error_console))
    for path in entities_csv:
        records = read_entities_csv(path, on_error=on_error, report=read_report)
        builder.add_records(track(records, f"entities {path.name}", error_console))
    for path in synonyms:
        records = read_synonyms(
            path, numeric_id_prefix=numeric_id_prefix, entity_type=synonym_type, on_error=on_error, report=read_report
        )
        builder.add_records(track(records, f"synonyms {path.name}", error_console))
    if spacy_kb is not None:
        from elkit.kb.spacy_kb import add_spacy_kb

        add_spacy_kb(builder, spacy_kb)
    for path in aliases:
        rows = read_alias_table(path, on_error=on_error, report=read_report)
        builder.add_alias_rows(track(rows, f"aliases {path.name}", error_console))
    for path in mentions:
        docs = read_corpus(path, on_error=on_error, report=read_report)
        builder.add_alias_counts(mention_alias_counts(track(docs, f"mentions {path.name}", error_console)), str(path))
    index = builder.build(output, overwrite=overwrite, report=_stage)
    counts = index.manifest["counts"]
    typer.echo(
        f"built {output}: {counts['entities']:,} entities, {counts['aliases']:,} aliases, "
        f"{counts['alias_entity_pairs']:,} alias-entity pairs, {counts['normalized_keys']:,} normalised keys, "
        f"{_size(output)}"
    )
    for line in builder.report.lines():
        typer.echo(f"  {line}")


def _size(folder: Path) -> str:
    total = sum(path.stat().st_size for path in folder.iterdir() if path.is_file())
    return f"{total / 1e6:,.2f} MB on disk"


def info(
    path: Path = typer.Argument(..., help="A KB folder."),
    sample: int = typer.Option(3, help="How many entities to show."),
    verify: bool = typer.Option(False, "--verify", help="Check every file's SHA-256 (reads the whole KB)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Print a KB's counts, size on disk, build report and a sample of entities."""
    kb = open_kb(path)
    if verify:
        kb.verify()
    manifest = kb.index.manifest
    step = max(1, kb.entity_count // max(sample, 1))
    entities = [kb.index.entity_at(row).to_dict() for row in range(0, kb.entity_count, step)][:sample]
    summary = {
        "path": str(path),
        "counts": manifest["counts"],
        "size_mb": round(sum(spec["size"] for spec in manifest["files"].values()) / 1e6, 2),
        "normalizer": manifest["normalizer"],
        "dense": manifest.get("dense"),
        "build_report": manifest.get("build", {}).get("report", {}).get("counts", {}),
        "sample": entities,
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    typer.echo(f"KB {path}" + (" (verified)" if verify else ""))
    for key, value in manifest["counts"].items():
        typer.echo(f"  {key:<20} {value:>14,}")
    typer.echo(f"  {'size on disk':<20} {summary['size_mb']:>11,.2f} MB")
    dense = manifest.get("dense")
    typer.echo(
        f"  {'vectors':<20} " + (f"{dense['vectors']:,} x {dense['dim']} ({dense['units']})" if dense else "none")
    )
    for kind, count in summary["build_report"].items():
        typer.echo(f"  build: {kind}: {count:,}")
    for entity in entities:
        typer.echo(f"  sample: {json.dumps(entity, ensure_ascii=False)}")


def embed(
    path: Path = typer.Argument(..., help="A KB folder (vectors are added to it)."),
    model: str | None = typer.Option(None, help="A local Hugging Face model folder (default all-MiniLM-L6-v2)."),
    units: str = typer.Option("entities", help="entities: name + description; aliases: also every alias."),
    batch_size: int = typer.Option(128, help="Texts per encoder batch."),
) -> None:
    """Compute entity vectors with the encoder and add a dense (HNSW) index to the KB."""
    from elkit.encoders import TextEncoder
    from elkit.kb.dense import embed_kb

    if units not in ("entities", "aliases"):
        raise ConfigError(f"--units must be 'entities' or 'aliases', got {units!r}")
    with progress_bar(error_console) as progress:
        task = progress.add_task("embedding", total=None)
        spec = embed_kb(
            path,
            TextEncoder(model),
            units=units,
            batch_size=batch_size,  # type: ignore[arg-type]
            progress=lambda done: progress.advance(task, done),
            total=lambda count: progress.update(task, total=count),
        )
    typer.echo(
        f"embedded {path}: {spec['vectors']:,} vectors of {spec['dim']} dimensions ({units}), encoder {spec['encoder']}"
    )


def query(
    path: Path = typer.Argument(..., help="A KB folder."),
    mentions: list[str] = typer.Argument(..., help="Mention texts to look up."),
    generators: str = typer.Option("exact,normalized,fuzzy", help=f"Comma-separated: {', '.join(GENERATORS)}."),
    limit: int = typer.Option(10, help="Candidates per mention."),
    model: str | None = typer.Option(None, help="Encoder for the dense generator (default all-MiniLM-L6-v2)."),
) -> None:
    """Print the merged candidates of each mention, with every source's score."""
    from elkit.candidates import DenseGenerator, ExactGenerator, FuzzyGenerator, NormalizedGenerator, UnionGenerator

    kb = open_kb(path)
    names = [name.strip() for name in generators.split(",") if name.strip()]
    unknown = sorted(set(names) - set(GENERATORS))
    if unknown or not names:
        raise ConfigError(f"unknown generators {unknown}: use {', '.join(GENERATORS)}")
    chosen = []
    for name in names:
        if name == "dense":
            from elkit.encoders import TextEncoder

            chosen.append(DenseGenerator(kb, TextEncoder(model), limit=limit))
        else:
            chosen.append({"exact": ExactGenerator, "normalized": NormalizedGenerator}.get(name, FuzzyGenerator)(kb))
    union = UnionGenerator(chosen, limit=limit)
    for mention, candidates in zip(mentions, union.batch(mentions), strict=True):
        typer.echo(f"{mention}")
        for candidate in candidates:
            entity = kb.get_entity(candidate.entity_id)
            scores = " ".join(f"{source}={score:.3f}" for source, score in candidate.scores.items())
            typer.echo(f"  {candidate.entity_id}\t{entity.name}\tprior={candidate.prior:.3f}\t{scores}")
        if not candidates:
            typer.echo("  (no candidates)")
