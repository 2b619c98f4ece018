"""Readers for the KB source formats users already have. Each yields checked records with their line numbers.

- GLiNKER-style ``entities.jsonl``: ``entity_id``, ``label`` or ``name``, ``description``, ``entity_type`` or
  ``types``, ``aliases``, ``popularity``; every other key is kept in ``Entity.attrs``.
- Alias tables (TSV or CSV, with a header): an alias column (``alias``, ``mention``), an entity column
  (``entity_id``, ``entity``, ``entity_title``, ``kb_id``), and a prior (``prior``, ``p_e_given_m``,
  ``probability``) and/or a count (``count``, ``frequency``). A prior column wins over a count column.
- Synonym vocabularies, one concept per line: ``ID[|ID...]||name[|synonym...]`` (CTD's MEDIC as BioSyn ships it).

Headerless ``id,name,description`` CSV files (spaCy's entity-linking tutorial) are read by `elkit.kb.csv_source`.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elkit.errors import ElkitError, FormatError
from elkit.io.lines import OnError, ReadReport, handle, parse_lines, read_lines
from elkit.kb.entity import Entity

__all__ = ["AliasRow", "EntityRecord", "read_alias_table", "read_entities_jsonl", "read_synonyms"]

ALIAS_COLUMNS = ("alias", "mention", "surface", "name")
ENTITY_COLUMNS = ("entity_id", "entity", "entity_title", "kb_id", "id")
PRIOR_COLUMNS = ("prior", "p_e_given_m", "probability", "prob")
COUNT_COLUMNS = ("count", "frequency", "freq", "n")


@dataclass(frozen=True, slots=True)
class EntityRecord:
    """An entity read from a source, with the aliases the source gives it and where it was read."""

    entity: Entity
    aliases: tuple[str, ...]
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class AliasRow:
    """One alias → entity row of an alias table. At most one of `prior` and `count` is set."""

    alias: str
    entity_id: str
    prior: float | None
    count: float | None
    path: str
    line: int


def read_entities_jsonl(
    path: str | Path,
    *,
    popularity_field: str = "popularity",
    type_field: str = "entity_type",
    on_error: OnError = "raise",
    report: ReadReport | None = None,
) -> Iterator[EntityRecord]:
    """Stream a GLiNKER-style entities.jsonl file.

    Args:
        path: The file.
        popularity_field: The key holding popularity (e.g. ``in_count`` for the AIDA KB).
        type_field: The key holding the type or types (a string or a list; e.g. ``ppr_type``).
        on_error: ``raise`` at the first bad line, or ``skip`` it and record it in `report`.
        report: Collects skipped lines.
    """
    yield from parse_lines(
        path,
        lambda text, line: _entity_record(text, popularity_field, type_field, str(path), line),
        on_error=on_error,
        report=report,
    )


def _entity_record(text: str, popularity_field: str, type_field: str, path: str, line: int) -> EntityRecord:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise FormatError(f"not valid JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(record, dict):
        raise FormatError("each line must be a JSON object")
    entity_id = record.pop("entity_id", None)
    if not isinstance(entity_id, str) or not entity_id.strip():
        raise FormatError(f"must be a non-empty string, got {entity_id!r}", field="entity_id")
    name = record.pop("label", None) or record.pop("name", None) or ""
    description = record.pop("description", None) or ""
    types = _strings(record.pop(type_field, None) or record.pop("types", None) or [], type_field)
    aliases = _strings(record.pop("aliases", None) or [], "aliases")
    other_ids = _strings(record.pop("other_ids", None) or [], "other_ids")
    popularity = record.pop(popularity_field, None)
    if popularity is None:
        popularity = 0.0
    if isinstance(popularity, bool) or not isinstance(popularity, int | float) or not math.isfinite(popularity):
        raise FormatError(f"must be a number, got {popularity!r}", field=popularity_field)
    if popularity < 0:
        raise FormatError(f"must be >= 0, got {popularity!r}", field=popularity_field)
    for field_name, value in (("label", name), ("description", description)):
        if not isinstance(value, str):
            raise FormatError(f"must be a string, got {value!r}", field=field_name)
    try:
        entity = Entity(entity_id, name, description, tuple(types), float(popularity), tuple(other_ids), record)
    except ElkitError as error:
        raise FormatError(str(error)) from None
    names = tuple(dict.fromkeys(alias for alias in (name, *aliases) if alias.strip()))
    return EntityRecord(entity, names, path, line)


def _strings(value: Any, field_name: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FormatError(f"must be a string or a list of strings, got {value!r}", field=field_name)
    return [item for item in value if item.strip()]


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [column.strip().lower() for column in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def read_alias_table(
    path: str | Path, *, on_error: OnError = "raise", report: ReadReport | None = None
) -> Iterator[AliasRow]:
    """Stream an alias table (TSV, or CSV when the file name ends in .csv) with a header line.

    Raises:
        FormatError: The header names no alias or entity column, or (strict mode) a row is malformed.
    """
    delimiter = "," if str(path).lower().endswith(".csv") else "\t"
    columns: tuple[int, int, int | None, int | None] | None = None
    for number, text in read_lines(path, on_error=on_error, report=report):
        if not text.strip():
            continue
        cells = next(csv.reader([text], delimiter=delimiter)) if delimiter == "," else text.split("\t")
        if columns is None:
            columns = _alias_columns(cells, path, number)
            continue
        try:
            yield _alias_row(cells, columns, str(path), number)
        except FormatError as error:
            handle(error.at(path, number), on_error, report)


def _alias_columns(header: list[str], path: str | Path, line: int) -> tuple[int, int, int | None, int | None]:
    alias_column = _find(header, ALIAS_COLUMNS)
    entity_column = _find(header, ENTITY_COLUMNS)
    if alias_column is None or entity_column is None:
        raise FormatError(
            f"the header must name an alias column ({', '.join(ALIAS_COLUMNS)}) and an entity column "
            f"({', '.join(ENTITY_COLUMNS)}); got {header!r}",
            path=path,
            line=line,
        )
    prior_column = _find(header, PRIOR_COLUMNS)
    count_column = None if prior_column is not None else _find(header, COUNT_COLUMNS)
    return alias_column, entity_column, prior_column, count_column


def _alias_row(cells: list[str], columns: tuple[int, int, int | None, int | None], path: str, line: int) -> AliasRow:
    alias_column, entity_column, prior_column, count_column = columns
    width = 1 + max(column for column in columns if column is not None)
    if len(cells) < width:
        raise FormatError(f"expected at least {width} columns, got {len(cells)}")
    alias, entity_id = cells[alias_column], cells[entity_column].strip()
    if not alias.strip():
        raise FormatError("empty alias", field="alias")
    if not entity_id:
        raise FormatError("empty entity id", field="entity_id")
    prior = _number(cells[prior_column], "prior") if prior_column is not None else None
    count = _number(cells[count_column], "count") if count_column is not None else None
    if prior is not None and not 0.0 <= prior <= 1.0:
        raise FormatError(f"prior must be in [0, 1], got {prior}", field="prior")
    if count is not None and count < 0:
        raise FormatError(f"count must be >= 0, got {count}", field="count")
    return AliasRow(alias, entity_id, prior, count, path, line)


def _number(text: str, field_name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(f"not a number: {text!r}", field=field_name) from None
    if not math.isfinite(value):
        raise FormatError(f"not a finite number: {text!r}", field=field_name)
    return value


def read_synonyms(
    path: str | Path,
    *,
    numeric_id_prefix: str = "",
    entity_type: str = "",
    on_error: OnError = "raise",
    report: ReadReport | None = None,
) -> Iterator[EntityRecord]:
    """Stream a synonym vocabulary: ``ID[|ID...]||name[|synonym...]``, one concept per line.

    The first id becomes the entity id and the others its other ids; the first name its name; every name and
    synonym an alias.

    Args:
        path: The file.
        numeric_id_prefix: Put before ids made only of digits (``OMIM:`` for MEDIC's bare OMIM numbers).
        entity_type: A type given to every entity ("Disease"), or "" for none.
        on_error: ``raise`` at the first bad line, or ``skip`` it and record it in `report`.
        report: Collects skipped lines.
    """
    yield from parse_lines(
        path,
        lambda text, line: _synonym_record(text, numeric_id_prefix, entity_type, str(path), line),
        on_error=on_error,
        report=report,
    )


def _synonym_record(text: str, numeric_id_prefix: str, entity_type: str, path: str, line: int) -> EntityRecord:
    ids_part, separator, names_part = text.partition("||")
    if not separator:
        raise FormatError("expected 'ID[|ID...]||name[|synonym...]' (no '||' found)")
    ids = [item.strip() for item in ids_part.split("|")]
    if not ids or not all(ids):
        raise FormatError(f"empty id in {ids_part!r}", field="id")
    ids = [f"{numeric_id_prefix}{item}" if item.isdigit() else item for item in ids]
    names = [name for name in (item.strip() for item in names_part.split("|")) if name]
    if not names:
        raise FormatError("no name", field="name")
    types = (entity_type,) if entity_type else ()
    entity = Entity(ids[0], names[0], "", types, 0.0, tuple(dict.fromkeys(ids[1:])))
    return EntityRecord(entity, tuple(dict.fromkeys(names)), path, line)
