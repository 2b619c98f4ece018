"""The pattern matcher (entity ruler): phrase and token patterns in the spaCy / Prodigy ``patterns.jsonl`` format.

A pattern file has one JSON object a line::

    {"label": "ORG", "pattern": "Apple Inc.", "id": "Q312"}
    {"label": "GPE", "pattern": [{"LOWER": "san"}, {"LOWER": "francisco"}]}

A *phrase* pattern is a string; it is tokenized with the project tokenizer and matches the same tokens, compared
by their text (``phrase_matcher_attr="ORTH"``) or their lower-cased text (``"LOWER"``); whitespace between the
tokens does not matter. The phrase is tokenized on its own, so write it as it appears in text: the tokenizer keeps
"Inc." whole but splits "inc." into "inc" and ".", and the phrase "apple inc." then does not match "Apple Inc."
even with ``"LOWER"``. A *token* pattern is a
list of token specifications, each a dict of attribute tests that one token must all pass:

* attributes: ``ORTH`` / ``TEXT``, ``LOWER``, ``NORM``, ``SHAPE``, ``PREFIX``, ``SUFFIX`` (strings),
  ``LENGTH`` (an integer), ``IS_ALPHA``, ``IS_DIGIT``, ``IS_UPPER``, ``IS_LOWER``, ``IS_TITLE``, ``IS_PUNCT``,
  ``IS_SPACE``, ``LIKE_NUM``, ``SENT_START`` (true or false), with the meaning :class:`elkit.doc.Token` gives
  them; ``SENT_START`` is true for the first token of a document and, when sentences are set, of each sentence;
* values: a literal, or a dict of predicates that must all hold: ``IN`` and ``NOT_IN`` (lists), ``REGEX``
  (``re.search`` on string attributes, as in spaCy) and, for ``LENGTH``, ``==``, ``!=``, ``>=``, ``<=``, ``>``,
  ``<``;
* ``OP``: ``?`` (0 or 1), ``*`` (0 or more), ``+`` (1 or more), ``!`` (one token that does *not* pass the
  tests), ``{n}``, ``{n,m}``, ``{n,}`` and ``{,m}``;
* an empty dict ``{}`` matches any token. Attribute names and ``OP`` may be written in lower case.

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

Phrase patterns are looked up in a dict keyed by token tuples (only n-grams whose first token starts some phrase
are tried) and token patterns are indexed by a literal value of their first token (``ORTH``, ``LOWER`` and so on,
``IN`` lists included), so thousands of patterns cost little more than a few. A token pattern whose first token
is optional or has no literal test is tried at every position; unbounded wildcards (``{"OP": "*"}``) over long
documents cost time quadratic in the document's length, as in any matcher that reports every match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from operator import eq, ge, gt, le, lt, ne
from pathlib import Path
from typing import Any, Final, NamedTuple, Self

from elkit.corpora.base import iter_lines
from elkit.doc import Doc, Span
from elkit.errors import ConfigError, DataError, FormatError
from elkit.tokenize import Tokenizer
from elkit.registry import factories

__all__ = [
    "PATTERN_ID_KEY",
    "PATTERN_SOURCE",
    "SOURCE_KEY",
    "EntityRuler",
    "pattern_id",
    "read_patterns",
]

SOURCE_KEY: Final = "source"
"""Key of ``Span.attrs`` that names where a span came from."""
PATTERN_SOURCE: Final = "pattern"
"""The ``source`` of spans the ruler makes."""
PATTERN_ID_KEY: Final = "pattern_id"
"""Key of ``Span.attrs`` holding the ``"id"`` of the pattern that made the span."""

PATTERNS_FILE: Final = "patterns.jsonl"
CONFIG_FILE: Final = "config.json"

_PHRASE_ATTRIBUTES: Final = ("ORTH", "LOWER")
_STRING_ATTRIBUTES: Final = frozenset({"ORTH", "LOWER", "NORM", "SHAPE", "PREFIX", "SUFFIX"})
_BOOLEAN_ATTRIBUTES: Final = frozenset(
    {"IS_ALPHA", "IS_DIGIT", "IS_UPPER", "IS_LOWER", "IS_TITLE", "IS_PUNCT", "IS_SPACE", "LIKE_NUM", "SENT_START"}
)
_ALIASES: Final = {"TEXT": "ORTH"}
_ATTRIBUTES: Final = _STRING_ATTRIBUTES | _BOOLEAN_ATTRIBUTES | {"LENGTH"} | set(_ALIASES)
# Attributes whose literal values index a token pattern, most selective first.
_INDEX_PREFERENCE: Final = ("ORTH", "LOWER", "NORM", "SUFFIX", "SHAPE", "PREFIX", "LENGTH")
# Attributes of spaCy's matcher that need a statistical model, named in the error for them.
_MODEL_ATTRIBUTES: Final = frozenset({"POS", "TAG", "MORPH", "DEP", "LEMMA", "ENT_TYPE", "ENT_IOB", "ENT_ID", "_"})
_COMPARISONS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "==": eq, "!=": ne, ">=": ge, "<=": le, ">": gt, "<": lt,
}
_SET_PREDICATES: Final = ("IN", "NOT_IN")
_RANGE_OP: Final = re.compile(r"\{(\d+)\}|\{(\d*),(\d*)\}")
_TOP_LEVEL_KEYS: Final = frozenset({"label", "pattern", "id"})


def pattern_id(span: Span) -> str | None:
    """Return the ``"id"`` of the pattern that made ``span``, or None (no id, or not made by a pattern)."""
    value = span.attrs.get(PATTERN_ID_KEY)
    return value if isinstance(value, str) else None


# --- pattern checking and compiling -------------------------------------------------------------------------


class _PatternError(Exception):
    """A pattern problem, located by a field path inside the pattern record; turned into a FormatError."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class _Check(NamedTuple):
    """One attribute test of a token specification."""

    attribute: str
    test: Callable[[Any], bool]
    values: frozenset[Any] | None  # the literal values the test accepts, when it is an equality or IN test


@dataclass(frozen=True, slots=True)
class _Step:
    """One token specification of a token pattern, with its repetition bounds."""

    checks: tuple[_Check, ...]
    negated: bool
    minimum: int
    maximum: int | None

    def passes(self, columns: _Columns, position: int) -> bool:
        """Return whether the token at ``position`` passes this step's tests (inverted for ``!``)."""
        for check in self.checks:
            if not check.test(columns[check.attribute][position]):
                return self.negated
        return not self.negated

    def index_values(self) -> tuple[str, frozenset[Any]] | None:
        """Return an attribute and the values one of which a first token must have, when the step fixes one."""
        if self.negated or self.minimum < 1:
            return None
        literal = {check.attribute: check.values for check in self.checks if check.values is not None}
        for attribute in _INDEX_PREFERENCE:
            if attribute in literal:
                return attribute, literal[attribute]
        if literal:
            attribute = min(literal)
            return attribute, literal[attribute]
        return None


def _describe(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if _is_json(value) else repr(value)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _check_literal(attribute: str, value: Any, field: str) -> Any:
    """Return ``value`` when it has the type ``attribute`` compares with; raise otherwise."""
    if attribute in _STRING_ATTRIBUTES:
        if not isinstance(value, str):
            raise _PatternError(f"{attribute} compares with strings, got {_describe(value)}", field)
    elif attribute in _BOOLEAN_ATTRIBUTES:
        if not isinstance(value, bool):
            raise _PatternError(f"{attribute} compares with true or false, got {_describe(value)}", field)
    elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _PatternError(f"{attribute} compares with non-negative integers, got {_describe(value)}", field)
    return value


def _compile_value(attribute: str, value: Any, field: str) -> list[_Check]:
    """Compile the value of one attribute of a token specification into checks."""
    if not isinstance(value, dict):
        literal = _check_literal(attribute, value, field)
        return [_Check(attribute, partial(eq, literal), frozenset({literal}))]
    if not value:
        raise _PatternError(f"{attribute}: an empty predicate dict; give a value or IN, NOT_IN, REGEX", field)
    checks: list[_Check] = []
    for predicate, argument in value.items():
        where = f"{field}.{predicate}"
        if predicate in _SET_PREDICATES:
            if not isinstance(argument, list | tuple):
                raise _PatternError(f"{predicate} takes a list of values, got {_describe(argument)}", where)
            members = frozenset(
                _check_literal(attribute, member, f"{where}[{position}]") for position, member in enumerate(argument)
            )
            if predicate == "IN":
                checks.append(_Check(attribute, members.__contains__, members))
            else:
                checks.append(_Check(attribute, partial(_not_in, members), None))
        elif predicate == "REGEX":
            if attribute not in _STRING_ATTRIBUTES:
                raise _PatternError(f"REGEX applies to string attributes only, not {attribute}", where)
            if not isinstance(argument, str):
                raise _PatternError(f"REGEX takes a string, got {_describe(argument)}", where)
            try:
                expression = re.compile(argument)
            except re.error as error:
                raise _PatternError(f"bad regular expression {argument!r}: {error}", where) from None
            checks.append(_Check(attribute, partial(_searches, expression), None))
        elif predicate in _COMPARISONS:
            if attribute != "LENGTH":
                raise _PatternError(f"comparison {predicate} applies to LENGTH only, not {attribute}", where)
            bound = _check_literal(attribute, argument, where)
            checks.append(_Check(attribute, partial(_compares, _COMPARISONS[predicate], bound), None))
        else:
            allowed = ["IN", "NOT_IN"] + (["REGEX"] if attribute in _STRING_ATTRIBUTES else [])
            if attribute == "LENGTH":
                allowed += list(_COMPARISONS)
            raise _PatternError(f"unknown predicate {predicate!r} for {attribute}; use {', '.join(allowed)}", where)
    return checks


def _not_in(members: frozenset[Any], value: Any) -> bool:
    return value not in members


def _searches(expression: re.Pattern[str], value: str) -> bool:
    return expression.search(value) is not None


def _compares(operator: Callable[[Any, Any], bool], bound: int, value: int) -> bool:
    return operator(value, bound)


def _parse_op(op: Any, field: str) -> tuple[int, int | None, bool]:
    """Return (minimum, maximum, negated) for an ``OP`` value."""
    if op == "?":
        return 0, 1, False
    if op == "*":
        return 0, None, False
    if op == "+":
        return 1, None, False
    if op == "!":
        return 1, 1, True
    if op == "1":
        return 1, 1, False
    matched = _RANGE_OP.fullmatch(op) if isinstance(op, str) else None
    if matched is not None:
        exact, low, high = matched.groups()
        if exact is not None:
            count = int(exact)
            if count >= 1:
                return count, count, False
        elif low or high:
            minimum = int(low) if low else 0
            maximum = int(high) if high else None
            if maximum is None or (maximum >= 1 and minimum <= maximum):
                return minimum, maximum, False
    raise _PatternError(
        f"bad OP {_describe(op)}; use ?, *, +, !, {{n}}, {{n,m}}, {{n,}} or {{,m}} (n <= m, m >= 1)", field
    )


def _compile_token(spec: Any, field: str) -> _Step:
    """Compile one token specification of a token pattern."""
    if not isinstance(spec, dict):
        raise _PatternError(f"a token specification must be a JSON object, got {_describe(spec)}", field)
    checks: list[_Check] = []
    minimum, maximum, negated = 1, 1, False
    for key, value in spec.items():
        name = key.upper() if isinstance(key, str) else key
        where = f"{field}.{key}"
        if name == "OP":
            minimum, maximum, negated = _parse_op(value, where)
        elif name in _ATTRIBUTES:
            attribute = _ALIASES.get(name, name)
            checks.extend(_compile_value(attribute, value, where))
        elif name in _MODEL_ATTRIBUTES:
            raise _PatternError(f"token attribute {key!r} needs a statistical model and is not supported", where)
        else:
            supported = ", ".join(sorted(_ATTRIBUTES))
            raise _PatternError(f"unknown token attribute {key!r}; supported: {supported}, OP", where)
    return _Step(tuple(checks), negated, minimum, maximum)


def _compile_token_pattern(pattern: list[Any]) -> tuple[_Step, ...]:
    return tuple(_compile_token(spec, f"pattern[{position}]") for position, spec in enumerate(pattern))


def _check_record(data: Any, *, validate: bool) -> dict[str, Any]:
    """Check one pattern record and return its normalised copy: label, pattern and, when given, id.

    Raises:
        _PatternError: Naming the field that is wrong.
    """
    if not isinstance(data, Mapping):
        raise _PatternError(f"a pattern must be a JSON object, got {_describe(data)}", None)
    if validate:
        unknown = sorted(str(key) for key in data if key not in _TOP_LEVEL_KEYS)
        if unknown:
            raise _PatternError(
                f"unknown key(s) {', '.join(unknown)}; a pattern has label, pattern and id (build the ruler with "
                f"validate=False to ignore other keys)",
                unknown[0],
            )
    if "label" not in data:
        raise _PatternError("missing 'label'", "label")
    label = data["label"]
    if not isinstance(label, str) or not label.strip():
        raise _PatternError(f"label must be a non-empty string, got {_describe(label)}", "label")
    if "pattern" not in data:
        raise _PatternError("missing 'pattern'", "pattern")
    pattern = data["pattern"]
    if isinstance(pattern, str):
        if not pattern.strip():
            raise _PatternError("empty phrase pattern", "pattern")
    elif isinstance(pattern, list | tuple):
        if not pattern:
            raise _PatternError("empty token pattern: give at least one token specification", "pattern")
        if not _is_json(pattern):
            raise _PatternError("a token pattern must be plain JSON data (lists, dicts, strings, numbers)", "pattern")
        pattern = json.loads(json.dumps(pattern))  # a private copy, lists for tuples
        _compile_token_pattern(pattern)  # check it
    else:
        raise _PatternError(
            f"pattern must be a string (phrase) or a list of token specifications, got {_describe(pattern)}",
            "pattern",
        )
    record: dict[str, Any] = {"label": label, "pattern": pattern}
    identifier = data.get("id")
    if identifier is not None:
        if not isinstance(identifier, str) or not identifier:
            raise _PatternError(f"id must be a non-empty string, got {_describe(identifier)}", "id")
        record["id"] = identifier
    return record


def _field_in_list(position: int, field: str | None) -> str:
    """Name a field of the pattern at ``position`` of a list: ``patterns[3].label``."""
    return f"patterns[{position}]" if field is None else f"patterns[{position}].{field}"


def read_patterns(path: str | Path, *, validate: bool = True) -> list[dict[str, Any]]:
    """Read and check a ``patterns.jsonl`` file; blank lines are skipped.

    Args:
        path: The file, UTF-8, one pattern object a line.
        validate: Reject keys other than label, pattern and id (False ignores them).

    Returns:
        The patterns as normalised dicts with ``label``, ``pattern`` and, when given, ``id``.

    Raises:
        FormatError: For the first bad line, naming the file, the line and the field: a file that cannot be
            opened, bytes that are not UTF-8, malformed JSON, a missing or empty label or pattern, an unknown token
            attribute, a bad OP or value, a regular expression that does not compile.
    """
    records: list[dict[str, Any]] = []
    for number, line in iter_lines(path):
        if isinstance(line, FormatError):
            raise line
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as error:
            raise FormatError(f"not valid JSON: {error}", path=path, line=number) from None
        try:
            records.append(_check_record(data, validate=validate))
        except _PatternError as error:
            raise FormatError(error.message, path=path, line=number, field=error.field) from None
    return records


# --- matching ------------------------------------------------------------------------------------------------


class _Columns(dict[str, list[Any]]):
    """One document's token attributes, column by column, each computed on first use."""

    def __init__(self, doc: Doc) -> None:
        super().__init__()
        self.doc = doc

    def __missing__(self, attribute: str) -> list[Any]:
        doc = self.doc
        if attribute == "ORTH":
            column: list[Any] = doc.words
        elif attribute == "LOWER":
            column = [word.lower() for word in self["ORTH"]]
        elif attribute == "LENGTH":
            column = [len(word) for word in self["ORTH"]]
        elif attribute == "PREFIX":
            column = [word[:1] for word in self["ORTH"]]
        elif attribute == "SUFFIX":
            column = [word[-3:] for word in self["ORTH"]]
        elif attribute == "SENT_START":
            starts = set(doc.sentence_starts or [0])
            column = [index in starts for index in range(len(doc))]
        else:
            name = attribute.lower()
            column = [getattr(token, name) for token in doc]
        self[attribute] = column
        return column


def _match_ends(steps: tuple[_Step, ...], columns: _Columns, start: int, length: int) -> set[int]:
    """Return every token index where a match of ``steps`` beginning at ``start`` can end."""
    ends: set[int] = set()
    seen: set[tuple[int, int]] = set()
    pending = [(0, start)]
    last = len(steps)
    while pending:
        state = pending.pop()
        if state in seen:
            continue
        seen.add(state)
        step_index, position = state
        if step_index == last:
            ends.add(position)
            continue
        step = steps[step_index]
        if step.minimum == 0:
            pending.append((step_index + 1, position))
        count = 0
        while (step.maximum is None or count < step.maximum) and position < length and step.passes(
            columns, position
        ):
            count += 1
            position += 1
            if count >= step.minimum:
                pending.append((step_index + 1, position))
    return ends


class _Entry(NamedTuple):
    label: str
    identifier: str | None


class _Matcher:
    """The compiled patterns: a phrase table, token patterns indexed by their first token, and their labels."""

    def __init__(self, phrase_attribute: str, tokenizer: Tokenizer) -> None:
        self.phrase_attribute = phrase_attribute
        self.tokenizer = tokenizer
        self.entries: list[_Entry] = []
        self.phrases: dict[tuple[str, ...], list[int]] = {}
        self.phrase_lengths: dict[str, set[int]] = {}
        self.token_patterns: dict[int, tuple[_Step, ...]] = {}
        self.token_index: dict[str, dict[Any, list[int]]] = {}
        self.unindexed: list[int] = []

    def add(self, record: Mapping[str, Any]) -> None:
        """Compile a checked pattern record and add it."""
        number = len(self.entries)
        pattern = record["pattern"]
        if isinstance(pattern, str):
            words = self.tokenizer(pattern).words
            key = tuple(word.lower() for word in words) if self.phrase_attribute == "LOWER" else tuple(words)
            self.phrases.setdefault(key, []).append(number)
            self.phrase_lengths.setdefault(key[0], set()).add(len(key))
        else:
            steps = _compile_token_pattern(pattern)
            self.token_patterns[number] = steps
            indexed = steps[0].index_values()
            if indexed is None:
                self.unindexed.append(number)
            else:
                attribute, values = indexed
                table = self.token_index.setdefault(attribute, {})
                for value in values:
                    table.setdefault(value, []).append(number)
        self.entries.append(_Entry(record["label"], record.get("id")))

    def matches(self, doc: Doc) -> list[tuple[int, int, int]]:
        """Return every (start, end, pattern number) match in ``doc``, empty matches left out."""
        length = len(doc)
        found: list[tuple[int, int, int]] = []
        if not length or not self.entries:
            return found
        columns = _Columns(doc)
        if self.phrases:
            keys = columns[self.phrase_attribute]
            phrases = self.phrases
            phrase_lengths = self.phrase_lengths
            for start, key in enumerate(keys):
                lengths = phrase_lengths.get(key)
                if lengths is None:
                    continue
                for size in lengths:
                    end = start + size
                    if end <= length:
                        for number in phrases.get(tuple(keys[start:end]), ()):
                            found.append((start, end, number))
        token_patterns = self.token_patterns
        for attribute, table in self.token_index.items():
            for start, value in enumerate(columns[attribute]):
                for number in table.get(value, ()):
                    for end in _match_ends(token_patterns[number], columns, start, length):
                        if end > start:
                            found.append((start, end, number))
        for number in self.unindexed:
            steps = token_patterns[number]
            for start in range(length):
                for end in _match_ends(steps, columns, start, length):
                    if end > start:
                        found.append((start, end, number))
        return found


# --- the component ------------------------------------------------------------------------------------------


class EntityRuler:
    """Pipeline component that finds entities with phrase and token patterns (spaCy's ``EntityRuler``).

    The constructor only stores settings: patterns come from :meth:`add_patterns`, :meth:`from_jsonl`, a saved
    component (:meth:`from_disk`, :meth:`from_bytes`) or ``patterns_path``, read on first use or by
    :meth:`initialize`. Saving or pickling the component reads ``patterns_path`` first, so the patterns travel
    with it (a pipeline's worker processes do not read the file again).

    Args:
        name: The component's name in a pipeline.
        patterns_path: A ``patterns.jsonl`` file loaded lazily, on first use or by :meth:`initialize` (a ``Path`` is
            kept as a string).
        phrase_matcher_attr: What phrase patterns compare: "ORTH" (the token text) or "LOWER" (lower-cased).
        overwrite_ents: Let matches replace the ``doc.ents`` they overlap (by default existing entities win);
            with ``spans_key``, replace the span group instead of adding to it.
        spans_key: Write matches into ``doc.spans[spans_key]``, overlaps allowed, instead of ``doc.ents``.
        validate: Reject pattern keys other than label, pattern and id; False ignores them. Labels, patterns
            and ids are always checked.

    Raises:
        ConfigError: When a setting has the wrong type or value.

    Example:
        >>> ruler = EntityRuler()
        >>> ruler.add_patterns([{"label": "ORG", "pattern": "Apple Inc."}])
        >>> [(span.text, span.label) for span in ruler(Tokenizer()("Apple Inc. grew.")).ents]
        [('Apple Inc.', 'ORG')]
    """

    def __init__(
        self,
        name: str = "entity_ruler",
        *,
        patterns_path: str | Path | None = None,
        phrase_matcher_attr: str = "ORTH",
        overwrite_ents: bool = False,
        spans_key: str | None = None,
        validate: bool = True,
    ) -> None:
        self.name = name
        self._apply_settings(
            {
                "patterns_path": str(patterns_path) if isinstance(patterns_path, Path) else patterns_path,
                "phrase_matcher_attr": phrase_matcher_attr,
                "overwrite_ents": overwrite_ents,
                "spans_key": spans_key,
                "validate": validate,
            }
        )
        self._patterns: list[dict[str, Any]] = []
        self._path_loaded = patterns_path is None
        self._tokenizer: Tokenizer | None = None
        self._matcher: _Matcher | None = None

    # --- settings ------------------------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The component's settings: its factory's keyword arguments other than ``name``.

        Settings that are None (``patterns_path``, ``spans_key`` when unset) are left out: a TOML config cannot
        hold them, and the factory's defaults restore them.
        """
        return {key: value for key, value in self._settings().items() if value is not None}

    def _settings(self) -> dict[str, Any]:
        return {
            "patterns_path": self.patterns_path,
            "phrase_matcher_attr": self.phrase_matcher_attr,
            "overwrite_ents": self.overwrite_ents,
            "spans_key": self.spans_key,
            "validate": self.validate,
        }

    def _apply_settings(self, settings: Any) -> None:
        checked = self._check_settings(settings)
        self.patterns_path: str | None = checked["patterns_path"]
        self.phrase_matcher_attr: str = checked["phrase_matcher_attr"]
        self.spans_key: str | None = checked["spans_key"]
        self.overwrite_ents: bool = checked["overwrite_ents"]
        self.validate: bool = checked["validate"]

    @staticmethod
    def _check_settings(settings: Any) -> dict[str, Any]:
        """Return the settings with defaults filled in.

        Raises:
            ConfigError: For an unknown setting or a wrong value.
        """
        if not isinstance(settings, dict):
            raise ConfigError(f"entity ruler settings must be a JSON object, got {type(settings).__name__}")
        allowed = {"patterns_path", "phrase_matcher_attr", "overwrite_ents", "spans_key", "validate"}
        unknown = set(settings) - allowed
        if unknown:
            raise ConfigError(f"unknown entity ruler settings: {sorted(unknown)}; allowed: {sorted(allowed)}")
        patterns_path = settings.get("patterns_path")
        if patterns_path is not None and (not isinstance(patterns_path, str) or not patterns_path):
            raise ConfigError(f"entity ruler patterns_path must be a file path or None, got {patterns_path!r}")
        phrase_matcher_attr = settings.get("phrase_matcher_attr", "ORTH")
        if phrase_matcher_attr not in _PHRASE_ATTRIBUTES:
            raise ConfigError(f"entity ruler phrase_matcher_attr must be ORTH or LOWER, got {phrase_matcher_attr!r}")
        spans_key = settings.get("spans_key")
        if spans_key is not None and (not isinstance(spans_key, str) or not spans_key):
            raise ConfigError(f"entity ruler spans_key must be a non-empty string or None, got {spans_key!r}")
        flags = {key: settings.get(key, default) for key, default in (("overwrite_ents", False), ("validate", True))}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise ConfigError(f"entity ruler {key} must be true or false, got {value!r}")
        return {
            "patterns_path": patterns_path,
            "phrase_matcher_attr": phrase_matcher_attr,
            "spans_key": spans_key,
            **flags,
        }

    # --- patterns ------------------------------------------------------------------------------------------

    def add_patterns(self, patterns: Iterable[Mapping[str, Any]]) -> None:
        """Add patterns: dicts with ``label``, ``pattern`` (a phrase string or a list of token dicts), ``id``.

        All patterns are checked before any is added.

        Raises:
            FormatError: Naming the pattern (``patterns[3]``) and the field that is wrong.
        """
        if isinstance(patterns, Mapping | str):
            raise FormatError("add_patterns takes a list of pattern dicts, not a single pattern", field="patterns")
        records: list[dict[str, Any]] = []
        for position, data in enumerate(patterns):
            try:
                records.append(_check_record(data, validate=self.validate))
            except _PatternError as error:
                raise FormatError(error.message, field=_field_in_list(position, error.field)) from None
        self._add_checked(records)

    def from_jsonl(self, path: str | Path) -> Self:
        """Add the patterns of a ``patterns.jsonl`` file (see :func:`read_patterns`) and return this component.

        Raises:
            FormatError: For a bad line, naming the file, the line and the field; nothing is added then.
        """
        self._add_checked(read_patterns(path, validate=self.validate))
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
        if not self._path_loaded and self.patterns_path is not None:
            records = read_patterns(self.patterns_path, validate=self.validate)
            self._path_loaded = True
            self._add_checked(records)

    def _get_matcher(self) -> _Matcher:
        if self._matcher is None:
            if self._tokenizer is None:
                self._tokenizer = Tokenizer()
            matcher = _Matcher(self.phrase_matcher_attr, self._tokenizer)
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
        if self.spans_key is None:
            if matches:
                self._set_entities(doc, matches, matcher.entries)
        else:
            self._set_span_group(doc, self.spans_key, matches, matcher.entries)
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Run on a stream of documents, lazily.

        Args:
            docs: The documents.
            batch_size: Accepted for the pipeline interface; documents are handled one at a time.

        Raises:
            ConfigError: When ``batch_size`` is not positive.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        return map(self, docs)

    @staticmethod
    def _span(doc: Doc, start: int, end: int, entry: _Entry) -> Span:
        attrs: dict[str, Any] = {SOURCE_KEY: PATTERN_SOURCE}
        if entry.identifier is not None:
            attrs[PATTERN_ID_KEY] = entry.identifier
        return Span(doc, start, end, entry.label, attrs=attrs)

    def _set_entities(self, doc: Doc, matches: list[tuple[int, int, int]], entries: list[_Entry]) -> None:
        """Keep the longest non-overlapping matches (then the earliest, then the first pattern) as entities."""
        taken = bytearray(len(doc))
        existing = list(doc.ents)
        if not self.overwrite_ents:
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
        if self.overwrite_ents:
            existing = [entity for entity in existing if not any(taken[entity.start : entity.end])]
        doc.ents = existing + chosen

    def _set_span_group(
        self, doc: Doc, key: str, matches: list[tuple[int, int, int]], entries: list[_Entry]
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
        if self.overwrite_ents or key not in doc.spans:
            doc.spans[key] = ordered
            return
        group = list(doc.spans[key])
        present = {(span.start, span.end, span.label, pattern_id(span)) for span in group}
        group.extend(
            span for span in ordered if (span.start, span.end, span.label, pattern_id(span)) not in present
        )
        doc.spans[key] = group

    # --- serialization -------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Return the settings and the patterns as JSON bytes."""
        self._ensure_loaded()
        return json.dumps(
            {"settings": self._settings(), "patterns": self._patterns}, ensure_ascii=False, sort_keys=True
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
        self._load_state(state["settings"], state["patterns"])
        return self

    def to_disk(self, path: str | Path) -> None:
        """Write ``patterns.jsonl`` and ``config.json`` (the settings) into the directory ``path``."""
        self._ensure_loaded()
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in self._patterns)
        (directory / PATTERNS_FILE).write_text(lines, encoding="utf-8")
        settings = json.dumps(self._settings(), ensure_ascii=False, sort_keys=True)
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
            settings = json.loads(config_path.read_bytes())
        except OSError as error:
            raise ConfigError(f"cannot read entity ruler settings {config_path}: {error.strerror}") from None
        except ValueError as error:
            raise ConfigError(f"{config_path}: entity ruler settings are not valid JSON: {error}") from None
        checked = self._check_settings(settings)
        records = read_patterns(directory / PATTERNS_FILE, validate=checked["validate"])
        self._load_state(checked, records)
        return self

    def _load_state(self, settings: Any, patterns: list[Any]) -> None:
        checked = self._check_settings(settings)
        records: list[dict[str, Any]] = []
        for position, data in enumerate(patterns):
            try:
                records.append(_check_record(data, validate=checked["validate"]))
            except _PatternError as error:
                raise FormatError(error.message, field=_field_in_list(position, error.field)) from None
        self._apply_settings(checked)
        self._patterns = []
        self._path_loaded = True
        self._matcher = None
        self._add_checked(records)

    def __getstate__(self) -> dict[str, Any]:
        self._ensure_loaded()
        return {"name": self.name, "settings": self._settings(), "patterns": self._patterns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self._apply_settings(state["settings"])
        self._patterns = list(state["patterns"])
        self._path_loaded = True
        self._tokenizer = None
        self._matcher = None

    def __repr__(self) -> str:
        count = len(self._patterns) if self._path_loaded else f"{len(self._patterns)}+{self.patterns_path}"
        return f"EntityRuler(name={self.name!r}, patterns={count}, spans_key={self.spans_key!r})"


@factories.register("elkit.EntityRuler.v1")
def make_entity_ruler(
    name: str,
    patterns_path: str | None = None,
    phrase_matcher_attr: str = "ORTH",
    overwrite_ents: bool = False,
    spans_key: str | None = None,
    validate: bool = True,
) -> EntityRuler:
    """The pattern matcher: phrase and token patterns from a spaCy / Prodigy patterns.jsonl (read on first use)."""
    return EntityRuler(
        name,
        patterns_path=patterns_path,
        phrase_matcher_attr=phrase_matcher_attr,
        overwrite_ents=overwrite_ents,
        spans_key=spans_key,
        validate=validate,
    )
