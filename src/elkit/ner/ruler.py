"""The pattern matcher (entity ruler): phrase and token patterns in the spaCy / Prodigy ``patterns.jsonl`` format.

The pattern language (what a pattern may say) is described in :mod:`elkit.ner.patterns`, the matching engine (how
every match is found, fast with thousands of patterns) in :mod:`elkit.ner.matcher`; this module is the pipeline
component. Phrase patterns are tokenized with the pipeline's tokenizer (its special cases included), or with a
default :class:`~elkit.tokenize.Tokenizer` when the ruler is built on its own.

Matching follows spaCy's ``EntityRuler``: every match of every pattern is collected, then the longest win
(longer first, then the earlier start, then the pattern added first), so a greedy operator gives the longest
match it can. Existing ``doc.ents`` win over overlapping matches unless ``overwrite_ents`` is set, in which case
the matches replace the entities they overlap. With ``spans_key`` the matches go into ``doc.spans[spans_key]``
instead and may overlap one another: each pattern contributes its longest non-overlapping matches.

Pattern spans carry ``attrs={"source": "pattern", "pattern_id": ...}`` (``pattern_id`` only when the pattern has
an ``"id"``), which :func:`pattern_id` reads back, for instance for a linker that maps ids to KB entities; their
``score`` stays None.

In a pipeline, order decides how the ruler and a statistical recognizer combine: a ruler placed first writes its
entities and a later recognizer decides whether it keeps them; a ruler placed after a recognizer keeps the
recognizer's entities unless ``overwrite_ents`` is set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Protocol, Self

import pydantic

from elkit.batching import BatchedComponent
from elkit.doc import Doc, Span
from elkit.errors import ConfigError, DataError, FormatError
from elkit.ner.matcher import MatchEntry, Matcher
from elkit.ner.patterns import check_patterns, read_patterns
from elkit.registry import factories
from elkit.settings import PathText, Settings, validate_settings
from elkit.tokenize import Tokenizer

__all__ = [
    "PATTERN_ID_KEY",
    "PATTERN_SOURCE",
    "SOURCE_KEY",
    "EntityRuler",
    "EntityRulerSettings",
    "pattern_id",
]

SOURCE_KEY: Final = "source"
"""Key of ``Span.attrs`` that names where a span came from."""
PATTERN_SOURCE: Final = "pattern"
"""The ``source`` of spans the ruler makes."""
PATTERN_ID_KEY: Final = "pattern_id"
"""Key of ``Span.attrs`` holding the ``"id"`` of the pattern that made the span."""

PATTERNS_FILE: Final = "patterns.jsonl"
CONFIG_FILE: Final = "config.json"


def pattern_id(span: Span) -> str | None:
    """Return the ``"id"`` of the pattern that made ``span``, or None (no id, or not made by a pattern)."""
    value = span.attrs.get(PATTERN_ID_KEY)
    return value if isinstance(value, str) else None


_NonEmpty = Annotated[str, pydantic.Field(min_length=1)]


class EntityRulerSettings(Settings):
    """The entity ruler's settings.

    Attributes:
        patterns_path: A ``patterns.jsonl`` file loaded lazily, on first use or by ``initialize`` (a ``Path`` is
            kept as a string).
        phrase_matcher_attr: What phrase patterns compare: "ORTH" (the token text) or "LOWER" (lower-cased).
        overwrite_ents: Let matches replace the ``doc.ents`` they overlap (by default existing entities win);
            with ``spans_key``, replace the span group instead of adding to it.
        spans_key: Write matches into ``doc.spans[spans_key]``, overlaps allowed, instead of ``doc.ents``.
        validate_keys: Reject pattern keys other than label, pattern and id; False ignores them. Labels,
            patterns and ids are always checked. Written ``validate`` in configs and saved settings.
    """

    model_config = pydantic.ConfigDict(populate_by_name=True)

    patterns_path: Annotated[PathText | None, pydantic.Field(min_length=1)] = None
    phrase_matcher_attr: Literal["ORTH", "LOWER"] = "ORTH"
    overwrite_ents: pydantic.StrictBool = False
    spans_key: _NonEmpty | None = None
    validate_keys: pydantic.StrictBool = pydantic.Field(True, alias="validate")

    def to_config(self) -> dict[str, Any]:
        """The settings as TOML-ready values under their config names (``validate``), None left out."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class _HasTokenizer(Protocol):
    """What the ruler needs of the pipeline that builds it."""

    tokenizer: Callable[[str], Doc]


class EntityRuler(BatchedComponent):
    """Pipeline component that finds entities with phrase and token patterns (spaCy's ``EntityRuler``).

    The constructor only stores settings: patterns come from :meth:`add_patterns`, :meth:`from_jsonl`, a saved
    component (:meth:`from_disk`, :meth:`from_bytes`) or ``patterns_path``, read on first use or by
    :meth:`initialize`. Saving or pickling the component reads ``patterns_path`` first, so the patterns travel
    with it (a pipeline's worker processes do not read the file again).

    Args:
        name: The component's name in a pipeline.
        settings: The settings (:class:`EntityRulerSettings`).
        tokenizer: Tokenizes phrase patterns: the pipeline's tokenizer, so that a phrase splits as text does
            (a default :class:`~elkit.tokenize.Tokenizer` when None).
        **values: The settings as keyword values instead (``spans_key="sc"``, ``validate=False``).

    Raises:
        ConfigError: When a setting has the wrong type or value, or both ``settings`` and values are given.

    Example:
        >>> ruler = EntityRuler()
        >>> ruler.add_patterns([{"label": "ORG", "pattern": "Apple Inc."}])
        >>> [(span.text, span.label) for span in ruler(Tokenizer()("Apple Inc. grew.")).ents]
        [('Apple Inc.', 'ORG')]
    """

    def __init__(
        self,
        name: str = "entity_ruler",
        settings: EntityRulerSettings | None = None,
        *,
        tokenizer: Callable[[str], Doc] | None = None,
        **values: Any,
    ) -> None:
        if settings is not None and values:
            raise ConfigError(f"{name}: give settings or keyword values, not both")
        self.name = name
        self.settings = settings if settings is not None else validate_settings(EntityRulerSettings, values, name)
        self._patterns: list[dict[str, Any]] = []
        self._path_loaded = self.settings.patterns_path is None
        self._tokenizer = tokenizer
        self._matcher: Matcher | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The component's settings, as its factory takes them.

        Settings that are None (``patterns_path``, ``spans_key`` when unset) are left out: a TOML config cannot
        hold them, and the defaults restore them.
        """
        return self.settings.to_config()

    @property
    def matcher(self) -> Matcher:
        """The compiled patterns (built on first use, loading ``patterns_path`` if due)."""
        self._ensure_loaded()
        return self._get_matcher()

    # --- patterns ------------------------------------------------------------------------------------------

    def add_patterns(self, patterns: Iterable[Mapping[str, Any]]) -> None:
        """Add patterns: dicts with ``label``, ``pattern`` (a phrase string or a list of token dicts), ``id``.

        All patterns are checked before any is added.

        Raises:
            FormatError: Naming the pattern (``patterns[3]``) and the field that is wrong.
        """
        if isinstance(patterns, Mapping | str):
            raise FormatError("add_patterns takes a list of pattern dicts, not a single pattern", field="patterns")
        self._add_checked(check_patterns(patterns, validate=self.settings.validate_keys))

    def from_jsonl(self, path: str | Path) -> Self:
        """Add the patterns of a ``patterns.jsonl`` file (see :func:`read_patterns`) and return this component.

        Raises:
            FormatError: For a bad line, naming the file, the line and the field; nothing is added then.
        """
        self._add_checked(read_patterns(path, validate=self.settings.validate_keys))
        return self

    def initialize(self, get_examples: Any = None, *, patterns: Iterable[Mapping[str, Any]] | None = None) -> None:
        """Load ``patterns_path`` now (when not yet loaded) and add ``patterns``; examples are not needed.

        Args:
            get_examples: Accepted for the pipeline's initialize call; unused.
            patterns: Further patterns to add.

        Raises:
            FormatError: For a bad pattern.
        """
        self._ensure_loaded()
        if patterns is not None:
            self.add_patterns(patterns)

    def clear(self) -> None:
        """Remove every pattern (``patterns_path`` is not read again)."""
        self._patterns = []
        self._path_loaded = True
        self._matcher = None

    def remove(self, identifier: str) -> None:
        """Remove the patterns whose ``id`` is ``identifier``.

        Raises:
            DataError: When no pattern has that id.
        """
        self._ensure_loaded()
        kept = [record for record in self._patterns if record.get("id") != identifier]
        if len(kept) == len(self._patterns):
            raise DataError(f"entity ruler {self.name!r}: no pattern has the id {identifier!r}")
        self._patterns = kept
        self._matcher = None

    @property
    def patterns(self) -> list[dict[str, Any]]:
        """A copy of the patterns, in the order they were added (loading ``patterns_path`` if due)."""
        self._ensure_loaded()
        return json.loads(json.dumps(self._patterns))

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of the patterns, sorted."""
        self._ensure_loaded()
        return tuple(sorted({record["label"] for record in self._patterns}))

    @property
    def ids(self) -> tuple[str, ...]:
        """The pattern ids, sorted."""
        self._ensure_loaded()
        return tuple(sorted({record["id"] for record in self._patterns if "id" in record}))

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._patterns)

    def __contains__(self, label: object) -> bool:
        return label in self.labels

    def _add_checked(self, records: list[dict[str, Any]]) -> None:
        matcher = self._get_matcher()
        for record in records:
            self._patterns.append(record)
            matcher.add(record)

    def _ensure_loaded(self) -> None:
        patterns_path = self.settings.patterns_path
        if not self._path_loaded and patterns_path is not None:
            records = read_patterns(patterns_path, validate=self.settings.validate_keys)
            self._path_loaded = True
            self._add_checked(records)

    def _get_matcher(self) -> Matcher:
        if self._matcher is None:
            if self._tokenizer is None:
                self._tokenizer = Tokenizer()
            matcher = Matcher(self.settings.phrase_matcher_attr, self._tokenizer)
            for record in self._patterns:
                matcher.add(record)
            self._matcher = matcher
        return self._matcher

    # --- running -------------------------------------------------------------------------------------------

    def __call__(self, doc: Doc) -> Doc:
        """Find pattern matches in ``doc``, write them into ``doc.ents`` (or the span group) and return it."""
        self._ensure_loaded()
        matcher = self._get_matcher()
        matches = matcher.matches(doc)
        spans_key = self.settings.spans_key
        if spans_key is None:
            if matches:
                self._set_entities(doc, matches, matcher.entries)
        else:
            self._set_span_group(doc, spans_key, matches, matcher.entries)
        return doc

    @staticmethod
    def _span(doc: Doc, start: int, end: int, entry: MatchEntry) -> Span:
        attrs: dict[str, Any] = {SOURCE_KEY: PATTERN_SOURCE}
        if entry.identifier is not None:
            attrs[PATTERN_ID_KEY] = entry.identifier
        return Span(doc, start, end, entry.label, attrs=attrs)

    def _set_entities(self, doc: Doc, matches: list[tuple[int, int, int]], entries: list[MatchEntry]) -> None:
        """Keep the longest non-overlapping matches (then the earliest, then the first pattern) as entities."""
        taken = bytearray(len(doc))
        existing = list(doc.ents)
        if not self.settings.overwrite_ents:
            for entity in existing:
                taken[entity.start : entity.end] = b"\x01" * (entity.end - entity.start)
        chosen: list[Span] = []
        for start, end, number in sorted(matches, key=lambda match: (match[0] - match[1], match[0], match[2])):
            if any(taken[start:end]):
                continue
            taken[start:end] = b"\x01" * (end - start)
            chosen.append(self._span(doc, start, end, entries[number]))
        if not chosen:
            return
        if self.settings.overwrite_ents:
            existing = [entity for entity in existing if not any(taken[entity.start : entity.end])]
        doc.ents = existing + chosen

    def _set_span_group(
        self, doc: Doc, key: str, matches: list[tuple[int, int, int]], entries: list[MatchEntry]
    ) -> None:
        """Add each pattern's longest non-overlapping matches to the span group; patterns may overlap."""
        taken_by_pattern: dict[int, set[int]] = {}
        chosen: dict[tuple[int, int, str, str | None], tuple[int, Span]] = {}
        for start, end, number in sorted(matches, key=lambda match: (match[0] - match[1], match[0], match[2])):
            taken = taken_by_pattern.setdefault(number, set())
            if not taken.isdisjoint(range(start, end)):
                continue
            taken.update(range(start, end))
            entry = entries[number]
            identity = (start, end, entry.label, entry.identifier)
            if identity not in chosen:
                chosen[identity] = (number, self._span(doc, start, end, entry))
        ordered = [span for _, span in sorted(chosen.values(), key=lambda item: (item[1].start, item[1].end, item[0]))]
        if self.settings.overwrite_ents or key not in doc.spans:
            doc.spans[key] = ordered
            return
        group = list(doc.spans[key])
        present = {(span.start, span.end, span.label, pattern_id(span)) for span in group}
        group.extend(
            span for span in ordered if (span.start, span.end, span.label, pattern_id(span)) not in present
        )
        doc.spans[key] = group

    # --- serialization -------------------------------------------------------------------------------------

    def _saved_settings(self) -> dict[str, Any]:
        return self.settings.model_dump(mode="json", by_alias=True)

    def _check_saved_settings(self, settings: Any, where: str) -> EntityRulerSettings:
        if not isinstance(settings, dict):
            raise ConfigError(f"{where}: entity ruler settings must be a JSON object, got {type(settings).__name__}")
        return validate_settings(EntityRulerSettings, settings, where)

    def to_bytes(self) -> bytes:
        """Return the settings and the patterns as JSON bytes."""
        self._ensure_loaded()
        return json.dumps(
            {"settings": self._saved_settings(), "patterns": self._patterns}, ensure_ascii=False, sort_keys=True
        ).encode("utf-8")

    def from_bytes(self, data: bytes) -> Self:
        """Load settings and patterns written by :meth:`to_bytes`, replacing the current ones; return self.

        Raises:
            ConfigError: When the data is not valid settings.
            FormatError: When a pattern in it is invalid.
        """
        try:
            state = json.loads(data)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"entity ruler data is not valid JSON: {error}") from None
        if not isinstance(state, dict) or set(state) != {"settings", "patterns"}:
            raise ConfigError("entity ruler data must be a JSON object with settings and patterns")
        if not isinstance(state["patterns"], list):
            raise ConfigError("entity ruler data: patterns must be a list")
        settings = self._check_saved_settings(state["settings"], f"{self.name} (saved settings)")
        self._load_state(settings, check_patterns(state["patterns"], validate=settings.validate_keys))
        return self

    def to_disk(self, path: str | Path) -> None:
        """Write ``patterns.jsonl`` and ``config.json`` (the settings) into the directory ``path``."""
        self._ensure_loaded()
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in self._patterns)
        (directory / PATTERNS_FILE).write_text(lines, encoding="utf-8")
        settings = json.dumps(self._saved_settings(), ensure_ascii=False, sort_keys=True)
        (directory / CONFIG_FILE).write_text(settings, encoding="utf-8")

    def from_disk(self, path: str | Path) -> Self:
        """Load ``config.json`` and ``patterns.jsonl`` from the directory ``path``, replacing the current state.

        Raises:
            ConfigError: When the settings file is missing or invalid.
            FormatError: When the patterns file is missing or has a bad line (named with its line number).
        """
        directory = Path(path)
        config_path = directory / CONFIG_FILE
        try:
            data = json.loads(config_path.read_bytes())
        except OSError as error:
            raise ConfigError(f"cannot read entity ruler settings {config_path}: {error.strerror}") from None
        except ValueError as error:
            raise ConfigError(f"{config_path}: entity ruler settings are not valid JSON: {error}") from None
        settings = self._check_saved_settings(data, str(config_path))
        self._load_state(settings, read_patterns(directory / PATTERNS_FILE, validate=settings.validate_keys))
        return self

    def _load_state(self, settings: EntityRulerSettings, records: list[dict[str, Any]]) -> None:
        self.settings = settings
        self._patterns = []
        self._path_loaded = True
        self._matcher = None
        self._add_checked(records)

    def __getstate__(self) -> dict[str, Any]:
        self._ensure_loaded()
        return {"name": self.name, "settings": self.settings, "patterns": self._patterns,
                "tokenizer": self._tokenizer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self.settings = state["settings"]
        self._patterns = list(state["patterns"])
        self._path_loaded = True
        self._tokenizer = state["tokenizer"]
        self._matcher = None

    def __repr__(self) -> str:
        patterns_path = self.settings.patterns_path
        count = len(self._patterns) if self._path_loaded else f"{len(self._patterns)}+{patterns_path}"
        return f"EntityRuler(name={self.name!r}, patterns={count}, spans_key={self.settings.spans_key!r})"


@factories.register("elkit.EntityRuler.v1", settings=EntityRulerSettings)
def make_entity_ruler(
    nlp: _HasTokenizer | None = None, name: str = "entity_ruler", *, settings: EntityRulerSettings
) -> EntityRuler:
    """The pattern matcher: phrase and token patterns from a spaCy / Prodigy patterns.jsonl (read on first use).

    Phrase patterns are tokenized with the pipeline's tokenizer, so its special cases apply to them too.
    """
    return EntityRuler(name, settings, tokenizer=nlp.tokenizer if nlp is not None else None)
