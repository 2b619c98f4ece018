"""``elkit info`` (versions, optional parts, a model's meta) and ``elkit init config`` (a commented start config)."""

from __future__ import annotations

import platform
import sys
from importlib import metadata, resources
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from elkit import __version__
from elkit.errors import ConfigError

__all__ = ["info", "init_config"]

_PARTS = (
    ("torch", "torch", "models"),
    ("transformers", "transformers", "transformer encoders"),
    ("spacy", "spacy", "DocBin, spaCy KBs, the peer benchmarks (elkit[spacy])"),
    ("fastapi", "fastapi", "the annotation server (elkit[annotate])"),
    ("sqlalchemy", "sqlalchemy", "the annotation store (elkit[annotate])"),
    ("ray", "ray", "--engine ray (elkit[ray])"),
    ("pyarrow", "pyarrow", "Parquet shards (elkit[ray])"),
    ("matplotlib", "matplotlib", "the train-curve plot (elkit[plot])"),
    ("gliner", "gliner", "the zero-shot peer benchmark"),
)
_TEMPLATES = {("ner", "speed"): "ner_speed.toml", ("ner", "accuracy"): "ner_accuracy.toml",
              ("linker", "speed"): "linker.toml", ("linker", "accuracy"): "linker.toml"}


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def info(
    model: Path | None = typer.Argument(None, help="A saved pipeline folder (or installed model package) to describe."),
) -> None:
    """Print elkit's version, Python, the optional parts installed, and with MODEL, what the pipeline holds."""
    import torch

    console = Console(soft_wrap=True)
    console.print(f"elkit {__version__} on Python {sys.version.split()[0]} ({platform.platform()})")
    devices = ["cpu"] + [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    console.print(f"devices: {', '.join(devices)}; torch threads: {torch.get_num_threads()}")
    table = Table(title="optional parts")
    for column in ("package", "version", "for"):
        table.add_column(column)
    for name, distribution, purpose in _PARTS:
        table.add_row(name, _version(distribution) or "[dim]not installed[/dim]", purpose)
    console.print(table)
    if model is None:
        return
    from elkit.packaging import load

    nlp = load(model)
    console.print(f"pipeline {model}: lang {nlp.lang}, components {', '.join(nlp.pipe_names) or '(none)'}")
    for name, component in nlp.components:
        labels = getattr(component, "labels", None)
        kb = getattr(component, "kb", None) if hasattr(component, "set_kb") else None
        details = [type(component).__name__]
        if labels:
            details.append(f"labels: {', '.join(map(str, labels))}")
        if kb is not None:
            details.append(f"KB: {getattr(kb, 'entity_count', len(kb)):,} entities")
        console.print(f"  {name}: {'; '.join(details)}")


def init_config(
    output: Path = typer.Argument(..., help="The config file to write (.toml)."),
    pipeline: str = typer.Option("ner", "--pipeline", help="'ner' (a trained recognizer) or 'linker' (a linker "
                                 "trained on linked mentions)."),
    optimize: str = typer.Option("speed", "--optimize", help="'speed' (CPU, hashed features and a CNN) or "
                                 "'accuracy' (a fine-tuned transformer); for the recognizer."),
    entities: Path | None = typer.Option(None, "--entities", help="With --pipeline linker: the KB's entities.jsonl."),
    kb: Path | None = typer.Option(None, "--kb", help="With --pipeline linker: the KB folder (built from "
                                   "--entities the first time it is missing)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
) -> None:
    """Write a commented config to start from: train it with `elkit train CONFIG --train ... --dev ...`."""
    names = [name.strip() for name in pipeline.split(",") if name.strip()]
    if names not in (["ner"], ["linker"]):
        raise ConfigError(f"--pipeline must be 'ner' or 'linker', got {pipeline!r} (a recognizer and a linker are "
                          "trained as two pipelines; elkit.create_simple(kb=..., ner_model=..., linker_model=...) "
                          "joins them)")
    if optimize not in ("speed", "accuracy"):
        raise ConfigError(f"--optimize must be 'speed' or 'accuracy', got {optimize!r}")
    if output.exists() and not force:
        raise ConfigError(f"{output}: already exists (--force replaces it)")
    text = resources.files("elkit.templates").joinpath(_TEMPLATES[(names[0], optimize)]).read_text(encoding="utf-8")
    if names == ["linker"]:
        folder = kb or (Path("models/kb") / (entities.stem if entities else "kb"))
        text = text.replace('"KB_FOLDER"', f'"{folder.as_posix()}"')
        source = entities.as_posix() if entities else "path/to/entities.jsonl"
        text = text.replace('"ENTITIES_FILE"', f'"{source}"')
        if kb is not None and entities is None:
            text = text.replace(f'entities = ["{source}"]', f'# entities = ["{source}"]   # the KB folder exists')
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}: {names[0]} ({optimize}); train it with "
               f"`elkit train {output} --train TRAIN --dev DEV --output models/{names[0]}`")
