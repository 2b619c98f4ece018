"""Entities from a headerless three-column CSV: ``id,name,description`` (spaCy's entity-linking tutorial format).

One entity per line, read with Python's csv module (fields may be quoted, with doubled quotes inside); a record
must fit on one line. The name becomes the entity's alias, as an entities.jsonl name does.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from elkit.errors import ElkitError, FormatError
from elkit.io.lines import OnError, ReadReport, handle, read_lines
from elkit.kb.entity import Entity
from elkit.kb.sources import EntityRecord

__all__ = ["CSV_COLUMNS", "read_entities_csv"]

CSV_COLUMNS = ("id", "name", "description")


def read_entities_csv(
    path: str | Path, *, on_error: OnError = "raise", report: ReadReport | None = None
) -> Iterator[EntityRecord]:
    """Stream the entities of a headerless ``id,name,description`` CSV file; blank lines are skipped.

    Args:
        path: The file.
        on_error: ``raise`` at the first bad line, or ``skip`` it and record it in `report`.
        report: Collects skipped lines.

    Raises:
        FormatError: (strict) A line without exactly three columns, with an empty id, or whose id an earlier line
            already has, naming the file, line and column.
    """
    seen: dict[str, int] = {}
    for number, text in read_lines(path, on_error=on_error, report=report):
        if not text.strip():
            continue
        try:
            record = _entity(text, str(path), number, seen)
        except FormatError as error:
            handle(error.at(path, number), on_error, report)
            continue
        seen[record.entity.entity_id] = number
        yield record


def _entity(text: str, path: str, line: int, seen: dict[str, int]) -> EntityRecord:
    try:
        cells = next(csv.reader([text], strict=True))
    except csv.Error as error:
        raise FormatError(f"not a valid CSV line ({error}; a quoted field must close on its own line)") from None
    if len(cells) != len(CSV_COLUMNS):
        raise FormatError(f"expected {len(CSV_COLUMNS)} columns ({', '.join(CSV_COLUMNS)}), got {len(cells)}: "
                          f"{text[:80]!r}")
    entity_id, name, description = (cell.strip() for cell in cells)
    if not entity_id:
        raise FormatError("empty entity id", field="id")
    if entity_id in seen:
        raise FormatError(f"duplicate entity id {entity_id!r} (first on line {seen[entity_id]})", field="id")
    try:
        entity = Entity(entity_id, name, description)
    except ElkitError as error:
        raise FormatError(str(error), field="id") from None
    return EntityRecord(entity, (name,) if name else (), path, line)
