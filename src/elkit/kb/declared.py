"""A KB declared in settings: its folder and the sources it is built from, built the first time it is missing.

`elkit kb build` and a config's ``kb`` table share :func:`build_kb`, so a config can name everything its linker
needs and ``elkit train CONFIG`` works on a fresh clone::

    [components.entity_linker.kb]
    path = "models/kb/aida"
    entities = ["../shared/data/aida/kb/entities.jsonl"]
    aliases = ["../shared/data/aida/kb/aliases_ppr.tsv"]
    popularity_field = "in_count"
    type_field = "ppr_type"

A plain string is a KB folder that must exist already.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

from rich.console import Console

from elkit.errors import ConfigError, KBError
from elkit.kb.base import KnowledgeBase
from elkit.kb.builder import KBBuilder
from elkit.kb.disk import DiskKB
from elkit.kb.enrich import mention_alias_counts
from elkit.kb.normalize import AliasNormalizer
from elkit.kb.sources import read_alias_table, read_entities_jsonl, read_synonyms
from elkit.progress import track
from elkit.settings import Settings

__all__ = ["KBSettings", "as_kb", "build_kb", "kb_from_setting", "open_declared_kb"]

Item = TypeVar("Item")


class KBSettings(Settings):
    """A KB folder and the sources it is built from (the options of `elkit kb build` and `elkit kb embed`).

    Attributes:
        path: The KB folder (relative paths are taken from the working directory).
        entities: GLiNKER-style entities.jsonl files.
        aliases: Alias tables (TSV or CSV with a header).
        synonyms: Synonym vocabularies (``ID[|ID]||name|synonym|...``).
        spacy_kb: A spaCy KB folder (``InMemoryLookupKB.to_disk``).
        mentions: Linked corpora whose mention → gold id pairs become counted aliases.
        popularity_field: The entities.jsonl key holding popularity.
        type_field: The entities.jsonl key holding the type(s).
        numeric_id_prefix: Prefix for all-digit synonym ids ("OMIM:" for MEDIC).
        synonym_type: A type given to every synonym-vocabulary entity.
        singularize: Normalised keys make words singular.
        lenient: Skip and count bad records instead of stopping.
        embed: Add entity vectors and a dense index: "entities" (name + description) or "aliases" (also every
            alias); None for none.
        embed_model: The encoder for ``embed``: a local model folder, all-MiniLM-L6-v2 when None.
    """

    path: str
    entities: list[str] = []
    aliases: list[str] = []
    synonyms: list[str] = []
    spacy_kb: str | None = None
    mentions: list[str] = []
    popularity_field: str = "popularity"
    type_field: str = "entity_type"
    numeric_id_prefix: str = ""
    synonym_type: str = ""
    singularize: bool = False
    lenient: bool = False
    embed: Literal["entities", "aliases"] | None = None
    embed_model: str | None = None


def build_kb(
    settings: KBSettings,
    *,
    overwrite: bool = False,
    console: Console | None = None,
    report: Callable[[str], None] | None = None,
) -> tuple[DiskKB, KBBuilder]:
    """Build the KB ``settings`` declares into its folder, with progress on ``console``.

    Args:
        settings: The folder and sources.
        overwrite: Replace an existing folder.
        console: Where progress goes (stderr when None).
        report: Called with a line for each build stage.

    Returns:
        The opened KB and the builder, whose ``report`` counts what was read, merged and skipped.

    Raises:
        ConfigError: No entity source.
        KBError, DataError: Bad records (unless ``lenient``).
    """
    if not (settings.entities or settings.synonyms or settings.spacy_kb):
        raise ConfigError(f"{settings.path}: give at least one entity source: entities, synonyms or spacy_kb")
    console = console or Console(stderr=True)

    def shown(items: Iterable[Item], what: str) -> Iterator[Item]:
        return track(items, what, console, unit="records")

    on_error = "skip" if settings.lenient else "raise"
    builder = KBBuilder(AliasNormalizer(singularize=settings.singularize), on_error=on_error)
    read_report = builder.report.read
    for path in settings.entities:
        records = read_entities_jsonl(path, popularity_field=settings.popularity_field,
                                      type_field=settings.type_field, on_error=on_error, report=read_report)
        builder.add_records(shown(records, f"entities {Path(path).name}"))
    for path in settings.synonyms:
        records = read_synonyms(path, numeric_id_prefix=settings.numeric_id_prefix,
                                entity_type=settings.synonym_type, on_error=on_error, report=read_report)
        builder.add_records(shown(records, f"synonyms {Path(path).name}"))
    if settings.spacy_kb is not None:
        from elkit.kb.spacy_kb import add_spacy_kb

        add_spacy_kb(builder, Path(settings.spacy_kb))
    for path in settings.aliases:
        rows = read_alias_table(path, on_error=on_error, report=read_report)
        builder.add_alias_rows(shown(rows, f"aliases {Path(path).name}"))
    if settings.mentions:
        from elkit.corpora import read_corpus

        for path in settings.mentions:
            docs = read_corpus(path, on_error=on_error, report=read_report)
            builder.add_alias_counts(mention_alias_counts(shown(docs, f"mentions {Path(path).name}")), str(path))
    builder.build(settings.path, overwrite=overwrite, report=report)
    if settings.embed is not None:
        embed_folder(settings.path, settings.embed, settings.embed_model, console)
    return DiskKB.open(settings.path), builder


def embed_folder(
    folder: str | os.PathLike[str], units: Literal["entities", "aliases"], model: str | None, console: Console
) -> dict[str, object]:
    """Add vectors and a dense index to a KB folder, with a progress bar; returns the dense manifest entry."""
    from elkit.encoders import TextEncoder
    from elkit.kb.dense import embed_kb
    from elkit.progress import progress_bar

    with progress_bar(console) as progress:
        task = progress.add_task("embedding", total=None)
        return embed_kb(
            folder,
            TextEncoder(model),
            units=units,
            progress=lambda done: progress.advance(task, done),
            total=lambda count: progress.update(task, total=count),
        )


def open_declared_kb(spec: str | os.PathLike[str] | KBSettings) -> DiskKB:
    """Open the KB ``spec`` names; a :class:`KBSettings` folder is built first when it is missing.

    Raises:
        KBError: A plain folder that is not a KB (the message says how to build one).
    """
    if not isinstance(spec, KBSettings):
        folder = Path(spec)
        if not (folder / "manifest.json").is_file():
            raise KBError(
                f"{folder}: not a KB folder (no manifest.json); build it with `elkit kb build {folder} --entities "
                "...`, or give the kb setting as a table (path and sources) so it is built on first use"
            )
        return DiskKB.open(folder)
    if not (Path(spec.path) / "manifest.json").is_file():
        return build_kb(spec, overwrite=True)[0]
    kb = DiskKB.open(spec.path)
    if spec.embed is not None and not kb.vector_dim:
        embed_folder(spec.path, spec.embed, spec.embed_model, Console(stderr=True))
        kb = DiskKB.open(spec.path)
    return kb


def kb_from_setting(spec: str | os.PathLike[str] | KBSettings | None) -> KnowledgeBase:
    """The KB a component's ``kb`` setting declares (opened or built), or an empty in-memory KB for None."""
    if spec:
        return open_declared_kb(spec)
    from elkit.kb.memory import InMemoryKB

    return InMemoryKB()


def as_kb(kb: KnowledgeBase | str | os.PathLike[str]) -> KnowledgeBase:
    """`kb` itself, or the KB folder it names, opened."""
    if isinstance(kb, str | os.PathLike):
        from elkit.kb import open_kb

        return open_kb(kb)
    return kb
