"""Build a KB from entities, alias rows and vectors, checking every write.

`KBBuilder` streams records in (from the readers in `elkit.kb.sources`, a spaCy KB, a corpus, or Python calls),
keeps them in compact columns, and on `build` resolves duplicates, turns counts into priors, checks the
priors, and compiles the result (`elkit.kb.compile`).

How an alias's priors are set, by what its rows carry (the strongest kind wins for the whole alias):

1. explicit priors (an alias table's prior column): used as they are; they must sum to at most 1;
2. counts (an alias table's count column, or mention counts from a corpus): count / the alias's total count;
3. nothing (names, synonyms, entities.jsonl aliases): the entity's share of the alias's total popularity,
   or an equal share when no entity has a popularity.

Rows of a weaker kind than the alias's strongest keep the entity as a candidate with prior 0.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from elkit.errors import FormatError, KBError
from elkit.io.lines import OnError, ReadReport
from elkit.kb.compile import compile_index
from elkit.kb.entity import Entity
from elkit.kb.index import KBIndex
from elkit.kb.layout import save_index
from elkit.kb.normalize import AliasNormalizer
from elkit.kb.sources import AliasRow, EntityRecord

__all__ = ["BuildReport", "KBBuilder"]

PRIOR, COUNT, NONE = 2, 1, 0
_KIND_NAMES = {PRIOR: "prior", COUNT: "count", NONE: "unweighted"}
_TOLERANCE = 1e-4  # alias tables round priors (AIDA's to 6 decimals), so sums drift a little above 1
PYTHON_SOURCE = "<python>"


@dataclass
class BuildReport:
    """What a KB build met besides good records: problems by kind, with the first few examples of each.

    Attributes:
        counts: How many times each kind of problem or notice occurred.
        examples: Up to `max_examples` located messages per kind.
        read: Lines the readers skipped (lenient mode).
    """

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    read: ReadReport = field(default_factory=ReadReport)
    max_examples: int = 5

    def add(self, kind: str, message: str) -> None:
        """Count one occurrence of `kind`, keeping its message if there are few so far."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        kept = self.examples.setdefault(kind, [])
        if len(kept) < self.max_examples:
            kept.append(message)

    def lines(self) -> list[str]:
        """Return a human summary, one line per kind of problem plus its examples."""
        output = []
        if self.read.skipped_count:
            output.append(f"skipped lines: {self.read.skipped_count}")
            output.extend(f"  {error}" for error in self.read.skipped[: self.max_examples])
        for kind, count in sorted(self.counts.items()):
            output.append(f"{kind}: {count}")
            output.extend(f"  {message}" for message in self.examples.get(kind, []))
        return output

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict (it is stored in the KB manifest)."""
        return {"counts": dict(self.counts), "examples": self.examples, "skipped_lines": self.read.skipped_count}


class KBBuilder:
    """Collect entities and aliases, then compile them into a KB.

    Args:
        normalizer: The alias normaliser stored with the KB (default settings when None).
        on_error: ``raise``: the first problem stops the build with an error naming the file, line and field.
            ``skip``: problems are counted in `report`, and the offending record is dropped (a conflicting
            duplicate keeps its first version; priors summing above 1 are scaled down).
    """

    def __init__(self, normalizer: AliasNormalizer | None = None, on_error: OnError = "raise") -> None:
        self.normalizer = normalizer or AliasNormalizer()
        self.on_error = on_error
        self.report = BuildReport()
        self.sources: list[str] = []
        self._source_index: dict[str, int] = {}
        self._entities: list[Entity] = []
        self._entity_where: list[str] = []  # "file:line" of each entity, for reports
        self._entity_index: dict[str, int] = {}
        self._other_index: dict[str, int] = {}
        self._alias_index: dict[str, int] = {}
        self._alias_texts: list[str] = []
        self._row_alias = array("q")
        self._row_entity = array("q")
        self._row_weight = array("d")
        self._row_kind = array("b")
        self._row_source = array("i")
        self._row_line = array("q")
        self._vectors: dict[int, np.ndarray] = {}

    # -- bookkeeping -------------------------------------------------------------------------------------

    def _source(self, path: str | None) -> int:
        name = path or PYTHON_SOURCE
        if name not in self._source_index:
            self._source_index[name] = len(self.sources)
            self.sources.append(name)
        return self._source_index[name]

    def _problem(self, kind: str, message: str, path: str | None, line: int | None, field_name: str | None) -> None:
        if self.on_error == "raise":
            if path is None or path == PYTHON_SOURCE:
                raise KBError(message + (f" [{field_name}]" if field_name else ""))
            raise FormatError(message, path=path, line=line or None, field=field_name)
        location = f"{path}:{line}: " if path and path != PYTHON_SOURCE else ""
        self.report.add(kind, location + message)

    def _where(self, row: int) -> str:
        path = self.sources[self._row_source[row]]
        return path if path == PYTHON_SOURCE else f"{path}:{self._row_line[row]}"

    @property
    def entity_count(self) -> int:
        """How many entities were added."""
        return len(self._entities)

    @property
    def row_count(self) -> int:
        """How many alias rows were added (before duplicates are resolved)."""
        return len(self._row_alias)

    def entity_position(self, entity_id: str) -> int | None:
        """Return the position of an entity by primary or other id, or None."""
        position = self._entity_index.get(entity_id)
        return position if position is not None else self._other_index.get(entity_id)

    # -- entities ----------------------------------------------------------------------------------------

    def add_entity(
        self, entity: Entity, aliases: Iterable[str] = (), *, path: str | None = None, line: int | None = None
    ) -> bool:
        """Add an entity and, optionally, aliases that point to it without a weight.

        Returns:
            True when the entity was added; False when it was a duplicate or a conflict that was skipped.

        Raises:
            KBError / FormatError: (strict) the id exists with different data, or an other id is taken.
        """
        existing = self._entity_index.get(entity.entity_id)
        if existing is not None:
            if self._entities[existing] == entity:
                self.report.add("duplicate entity (identical, kept once)", f"{path or ''}:{line} {entity.entity_id}")
            else:
                self._problem(
                    "conflicting entity",
                    f"entity {entity.entity_id!r} is already defined with different data",
                    path,
                    line,
                    "entity_id",
                )
            return False
        here = f"{path}:{line}" if path and path != PYTHON_SOURCE else "(Python)"
        if entity.entity_id in self._other_index:
            # A vocabulary may list an id as another concept's alternate id and also as a concept of its own
            # (MEDIC does with OMIM ids): the concept of its own keeps the id; the alternate listing is dropped.
            owner = self._other_index.pop(entity.entity_id)
            earlier = self._entities[owner]
            self._entities[owner] = dataclasses.replace(
                earlier, other_ids=tuple(other for other in earlier.other_ids if other != entity.entity_id))
            self.report.add("other id that is also an entity's own id (the entity keeps it)",
                            f"{entity.entity_id!r} ({here}) was an other id of {earlier.entity_id!r} "
                            f"({self._entity_where[owner]})")
        kept_other_ids = []
        for other in entity.other_ids:
            owner = self.entity_position(other)
            if owner is not None and other != entity.entity_id:
                # An id that names an entity already (its own id, or another entity's alternate id) keeps
                # naming that entity; this entity is kept without it, and the build reports the merge.
                kind = ("other id that is also an entity's own id (the entity keeps it)"
                        if other in self._entity_index else "other id shared by two entities (the first keeps it)")
                self.report.add(kind, f"{other!r} of {entity.entity_id!r} ({here}) already names "
                                      f"{self._entities[owner].entity_id!r} ({self._entity_where[owner]})")
            else:
                kept_other_ids.append(other)
        if len(kept_other_ids) != len(entity.other_ids):
            entity = dataclasses.replace(entity, other_ids=tuple(kept_other_ids))
        position = len(self._entities)
        self._entities.append(entity)
        self._entity_where.append(here)
        self._entity_index[entity.entity_id] = position
        for other in entity.other_ids:
            self._other_index.setdefault(other, position)
        for alias in aliases:
            self._add_row(alias, position, 0.0, NONE, path, line)
        return True

    def add_records(self, records: Iterable[EntityRecord]) -> int:
        """Add entities read by `read_entities_jsonl` or `read_synonyms`; return how many were added."""
        added = 0
        for record in records:
            added += self.add_entity(record.entity, record.aliases, path=record.path, line=record.line)
        return added

    def set_vector(self, entity_id: str, vector: Sequence[float] | np.ndarray) -> None:
        """Give an entity a vector (all vectors of a KB must have the same width)."""
        position = self.entity_position(entity_id)
        if position is None:
            raise KBError(f"cannot set a vector: unknown entity {entity_id!r}")
        values = np.asarray(vector, dtype=np.float32).reshape(-1)
        if self._vectors:
            width = len(next(iter(self._vectors.values())))
            if len(values) != width:
                raise KBError(f"vector of {entity_id!r} has {len(values)} values; the others have {width}")
        self._vectors[position] = values

    # -- aliases -----------------------------------------------------------------------------------------

    def add_alias(self, alias: str, entity_ids: Sequence[str], priors: Sequence[float]) -> None:
        """Add an alias with its entities and priors, checked as spaCy's KB checks them.

        Raises:
            KBError: The lists differ in length, a prior is outside [0, 1], the priors sum above 1, an
                entity is unknown, or the alias is empty.
        """
        if not isinstance(alias, str) or not alias.strip():
            raise KBError(f"an alias must be a non-empty string, got {alias!r}")
        if len(entity_ids) != len(priors):
            raise KBError(f"alias {alias!r}: {len(entity_ids)} entities but {len(priors)} priors")
        if any(not 0.0 <= prior <= 1.0 for prior in priors):
            raise KBError(f"alias {alias!r}: priors must be in [0, 1], got {list(priors)}")
        if sum(priors) > 1.0 + _TOLERANCE:
            raise KBError(f"alias {alias!r}: priors sum to {sum(priors):.6g}, more than 1")
        positions = []
        for entity_id in entity_ids:
            position = self.entity_position(entity_id)
            if position is None:
                raise KBError(f"alias {alias!r}: unknown entity {entity_id!r} (add the entity first)")
            positions.append(position)
        for position, prior in zip(positions, priors, strict=True):
            self._add_row(alias, position, float(prior), PRIOR, None, None)

    def add_alias_row(self, row: AliasRow) -> bool:
        """Add one row of an alias table; return False when it was skipped."""
        position = self.entity_position(row.entity_id)
        if position is None:
            self._problem(
                "unknown entity",
                f"alias {row.alias!r} names unknown entity {row.entity_id!r}",
                row.path,
                row.line,
                "entity_id",
            )
            return False
        if row.prior is not None:
            return self._add_row(row.alias, position, row.prior, PRIOR, row.path, row.line)
        if row.count is not None:
            return self._add_row(row.alias, position, row.count, COUNT, row.path, row.line)
        return self._add_row(row.alias, position, 0.0, NONE, row.path, row.line)

    def add_alias_rows(self, rows: Iterable[AliasRow]) -> int:
        """Add alias-table rows (see `read_alias_table`); return how many were added."""
        return sum(self.add_alias_row(row) for row in rows)

    def add_alias_counts(self, counts: dict[tuple[str, str], int], path: str) -> int:
        """Add (alias, entity id) → count pairs gathered elsewhere (mentions of a training corpus)."""
        added = 0
        for (alias, entity_id), count in counts.items():
            added += self.add_alias_row(AliasRow(alias, entity_id, None, float(count), path, 0))
        return added

    def _add_row(self, alias: str, position: int, weight: float, kind: int, path: str | None, line: int | None) -> bool:
        if not alias or not alias.strip():
            self._problem("empty alias", "empty alias", path, line, "alias")
            return False
        alias_id = self._alias_index.get(alias)
        if alias_id is None:
            alias_id = self._alias_index[alias] = len(self._alias_texts)
            self._alias_texts.append(alias)
        self._row_alias.append(alias_id)
        self._row_entity.append(position)
        self._row_weight.append(weight)
        self._row_kind.append(kind)
        self._row_source.append(self._source(path))
        self._row_line.append(line or 0)
        return True

    # -- build -------------------------------------------------------------------------------------------

    def build(
        self,
        folder: str | Path | None = None,
        *,
        overwrite: bool = False,
        report: Callable[[str], None] | None = None,
    ) -> KBIndex:
        """Resolve duplicates, set priors, compile, and (given a folder) write the KB.

        Args:
            folder: Where to write the KB; None keeps it in memory only.
            overwrite: Replace an existing KB folder.
            report: Called with a short message as each stage starts.

        Returns:
            The compiled index (opened from `folder` when one was given).

        Raises:
            KBError / FormatError: (strict) conflicting rows or priors summing above 1; no entities.
        """
        if not self._entities:
            raise KBError("the KB has no entities")
        stage = report or (lambda message: None)
        stage(f"checking {self.row_count:,} alias rows")
        keep = self._resolve_duplicates()
        alias_ids = np.frombuffer(self._row_alias, dtype=np.int64)[keep]
        positions = np.frombuffer(self._row_entity, dtype=np.int64)[keep]
        priors = self._priors(keep, alias_ids, positions)
        alias_texts = [self._alias_texts[alias_id] for alias_id in alias_ids.tolist()]
        extra = {"build": {"sources": self.sources, "report": self.report.to_dict()}}
        kinds = np.frombuffer(self._row_kind, dtype=np.int8)[keep]
        weights = np.frombuffer(self._row_weight, dtype=np.float64)[keep]
        index = compile_index(
            self._entities, alias_texts, positions, priors, self.normalizer, stage, extra, kinds, weights
        )
        if self._vectors:
            from elkit.kb.dense import attach_vectors

            stage(f"indexing {len(self._vectors):,} entity vectors")
            attach_vectors(index, self._vector_matrix(index))
        if folder is None:
            return index
        stage(f"writing {folder}")
        save_index(index, folder, overwrite=overwrite)
        return KBIndex.open(folder)

    def _vector_matrix(self, index: KBIndex) -> np.ndarray:
        if len(self._vectors) != len(self._entities):
            raise KBError(f"{len(self._vectors)} of {len(self._entities)} entities have vectors; give all or none")
        width = len(next(iter(self._vectors.values())))
        matrix = np.zeros((len(self._entities), width), dtype=np.float32)
        for position, vector in self._vectors.items():
            row = index.entity_row(self._entities[position].entity_id)
            matrix[row] = vector
        return matrix

    def _resolve_duplicates(self) -> np.ndarray:
        """Return the indices of the rows kept: one per (alias, entity), the strongest kind, the first line."""
        alias_ids = np.frombuffer(self._row_alias, dtype=np.int64)
        positions = np.frombuffer(self._row_entity, dtype=np.int64)
        kinds = np.frombuffer(self._row_kind, dtype=np.int8)
        weights = np.frombuffer(self._row_weight, dtype=np.float64)
        order = np.lexsort((np.arange(len(alias_ids)), -kinds.astype(np.int64), positions, alias_ids))
        same = (alias_ids[order][1:] == alias_ids[order][:-1]) & (positions[order][1:] == positions[order][:-1])
        starts = np.ones(len(order), dtype=bool)
        starts[1:] = ~same
        first_of_group = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
        repeated = np.flatnonzero(~starts)
        for index in repeated.tolist():
            row, first = int(order[index]), int(first_of_group[index])
            if kinds[row] != kinds[first]:
                continue  # a weaker kind of row for a pair that has a stronger one: superseded, as documented
            alias, entity_id = self._alias_texts[alias_ids[row]], self._entities[positions[row]].entity_id
            if weights[row] == weights[first]:
                self.report.add(
                    "duplicate alias row (identical, kept once)",
                    f"{self._where(row)}: {alias!r} → {entity_id!r} repeats {self._where(first)}",
                )
            else:
                kind = _KIND_NAMES[int(kinds[row])]
                row_path, _, row_line = self._where(row).rpartition(":")
                self._problem(
                    "conflicting alias row",
                    f"{alias!r} → {entity_id!r} has {kind} {weights[row]:g} "
                    f"here but {weights[first]:g} at {self._where(first)}",
                    row_path or None,
                    int(row_line) if row_line.isdigit() else None,
                    kind,
                )
        return np.sort(order[starts])

    def _priors(self, keep: np.ndarray, alias_ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        kinds = np.frombuffer(self._row_kind, dtype=np.int8)[keep].astype(np.int64)
        weights = np.frombuffer(self._row_weight, dtype=np.float64)[keep]
        alias_count = len(self._alias_texts)
        top = np.zeros(alias_count, dtype=np.int64)
        np.maximum.at(top, alias_ids, kinds)
        strongest = kinds == top[alias_ids]
        popularity = np.fromiter((entity.popularity for entity in self._entities), np.float64, len(self._entities))
        base = np.where(kinds == NONE, popularity[positions], weights) * strongest
        totals = np.bincount(alias_ids, weights=base, minlength=alias_count)
        members = np.bincount(alias_ids, weights=strongest.astype(np.float64), minlength=alias_count)
        priors = np.zeros(len(keep), dtype=np.float64)
        explicit = strongest & (kinds == PRIOR)
        priors[explicit] = weights[explicit]
        shared = strongest & (kinds != PRIOR)
        share_total = totals[alias_ids]
        priors[shared] = np.where(
            share_total[shared] > 0,
            base[shared] / np.where(share_total[shared] > 0, share_total[shared], 1.0),
            1.0 / np.maximum(members[alias_ids][shared], 1.0),
        )
        self._check_prior_sums(priors, explicit, alias_ids, keep)
        sums = np.bincount(alias_ids, weights=priors, minlength=alias_count)
        return np.minimum(priors / np.maximum(sums[alias_ids], 1.0), 1.0)

    def _check_prior_sums(
        self, priors: np.ndarray, explicit: np.ndarray, alias_ids: np.ndarray, keep: np.ndarray
    ) -> None:
        sums = np.bincount(alias_ids[explicit], weights=priors[explicit], minlength=len(self._alias_texts))
        for alias_id in np.flatnonzero(sums > 1.0 + _TOLERANCE).tolist():
            first = int(keep[np.flatnonzero(alias_ids == alias_id)[0]])
            path, _, line = self._where(first).rpartition(":")
            self._problem(
                "priors sum above 1 (scaled down)",
                f"the priors of alias {self._alias_texts[alias_id]!r} sum to {sums[alias_id]:.6g}, more than 1",
                path or None,
                int(line) if line.isdigit() else None,
                "prior",
            )
