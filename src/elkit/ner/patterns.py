"""The pattern language of the entity ruler: spaCy / Prodigy ``patterns.jsonl``, read, checked and compiled.

A pattern file has one JSON object a line::

    {"label": "ORG", "pattern": "Apple Inc.", "id": "Q312"}
    {"label": "GPE", "pattern": [{"LOWER": "san"}, {"LOWER": "francisco"}]}

A *phrase* pattern is a string; the ruler tokenizes it with the pipeline's tokenizer and it matches the same
tokens, compared by their text (``phrase_matcher_attr="ORTH"``) or their lower-cased text (``"LOWER"``);
whitespace between the tokens does not matter. The phrase is tokenized on its own, so write it as it appears in
text: the tokenizer keeps "Inc." whole but splits "inc." into "inc" and ".", and the phrase "apple inc." then does
not match "Apple Inc." even with ``"LOWER"``. A *token* pattern is a list of token specifications, each a dict of
attribute tests that one token must all pass:

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

A token pattern compiles into :class:`Step` objects (one per token specification, with its repetition bounds),
which :mod:`elkit.ner.matcher` runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from operator import eq, ge, gt, le, lt, ne
from pathlib import Path
from typing import Any, Final, NamedTuple

from elkit.errors import FormatError
from elkit.io.lines import iter_lines

__all__ = [
    "Check",
    "PatternError",
    "Step",
    "check_pattern",
    "check_patterns",
    "compile_token_pattern",
    "field_in_list",
    "read_patterns",
]

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


class PatternError(Exception):
    """A pattern problem, located by a field path inside the pattern record; turned into a FormatError."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Check(NamedTuple):
    """One attribute test of a token specification."""

    attribute: str
    test: Callable[[Any], bool]
    values: frozenset[Any] | None  # the literal values the test accepts, when it is an equality or IN test


@dataclass(frozen=True, slots=True)
class Step:
    """One token specification of a token pattern, with its repetition bounds."""

    checks: tuple[Check, ...]
    negated: bool
    minimum: int
    maximum: int | None

    def passes(self, columns: Mapping[str, Sequence[Any]], position: int) -> bool:
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
            raise PatternError(f"{attribute} compares with strings, got {_describe(value)}", field)
    elif attribute in _BOOLEAN_ATTRIBUTES:
        if not isinstance(value, bool):
            raise PatternError(f"{attribute} compares with true or false, got {_describe(value)}", field)
    elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PatternError(f"{attribute} compares with non-negative integers, got {_describe(value)}", field)
    return value


def _compile_value(attribute: str, value: Any, field: str) -> list[Check]:
    """Compile the value of one attribute of a token specification into checks."""
    if not isinstance(value, dict):
        literal = _check_literal(attribute, value, field)
        return [Check(attribute, partial(eq, literal), frozenset({literal}))]
    if not value:
        raise PatternError(f"{attribute}: an empty predicate dict; give a value or IN, NOT_IN, REGEX", field)
    checks: list[Check] = []
    for predicate, argument in value.items():
        where = f"{field}.{predicate}"
        if predicate in _SET_PREDICATES:
            if not isinstance(argument, list | tuple):
                raise PatternError(f"{predicate} takes a list of values, got {_describe(argument)}", where)
            members = frozenset(
                _check_literal(attribute, member, f"{where}[{position}]") for position, member in enumerate(argument)
            )
            if predicate == "IN":
                checks.append(Check(attribute, members.__contains__, members))
            else:
                checks.append(Check(attribute, partial(_not_in, members), None))
        elif predicate == "REGEX":
            if attribute not in _STRING_ATTRIBUTES:
                raise PatternError(f"REGEX applies to string attributes only, not {attribute}", where)
            if not isinstance(argument, str):
                raise PatternError(f"REGEX takes a string, got {_describe(argument)}", where)
            try:
                expression = re.compile(argument)
            except re.error as error:
                raise PatternError(f"bad regular expression {argument!r}: {error}", where) from None
            checks.append(Check(attribute, partial(_searches, expression), None))
        elif predicate in _COMPARISONS:
            if attribute != "LENGTH":
                raise PatternError(f"comparison {predicate} applies to LENGTH only, not {attribute}", where)
            bound = _check_literal(attribute, argument, where)
            checks.append(Check(attribute, partial(_compares, _COMPARISONS[predicate], bound), None))
        else:
            allowed = ["IN", "NOT_IN"] + (["REGEX"] if attribute in _STRING_ATTRIBUTES else [])
            if attribute == "LENGTH":
                allowed += list(_COMPARISONS)
            raise PatternError(f"unknown predicate {predicate!r} for {attribute}; use {', '.join(allowed)}", where)
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
    raise PatternError(
        f"bad OP {_describe(op)}; use ?, *, +, !, {{n}}, {{n,m}}, {{n,}} or {{,m}} (n <= m, m >= 1)", field
    )


def _compile_token(spec: Any, field: str) -> Step:
    """Compile one token specification of a token pattern."""
    if not isinstance(spec, dict):
        raise PatternError(f"a token specification must be a JSON object, got {_describe(spec)}", field)
    checks: list[Check] = []
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
            raise PatternError(f"token attribute {key!r} needs a statistical model and is not supported", where)
        else:
            supported = ", ".join(sorted(_ATTRIBUTES))
            raise PatternError(f"unknown token attribute {key!r}; supported: {supported}, OP", where)
    return Step(tuple(checks), negated, minimum, maximum)


def compile_token_pattern(pattern: list[Any]) -> tuple[Step, ...]:
    """Compile a token pattern (a list of token specifications) into its steps.

    Raises:
        PatternError: Naming the token specification (``pattern[2].OP``) that is wrong.
    """
    return tuple(_compile_token(spec, f"pattern[{position}]") for position, spec in enumerate(pattern))


def check_pattern(data: Any, *, validate: bool) -> dict[str, Any]:
    """Check one pattern record and return its normalised copy: label, pattern and, when given, id.

    Raises:
        PatternError: Naming the field that is wrong.
    """
    if not isinstance(data, Mapping):
        raise PatternError(f"a pattern must be a JSON object, got {_describe(data)}", None)
    if validate:
        unknown = sorted(str(key) for key in data if key not in _TOP_LEVEL_KEYS)
        if unknown:
            raise PatternError(
                f"unknown key(s) {', '.join(unknown)}; a pattern has label, pattern and id (build the ruler with "
                f"validate=False to ignore other keys)",
                unknown[0],
            )
    if "label" not in data:
        raise PatternError("missing 'label'", "label")
    label = data["label"]
    if not isinstance(label, str) or not label.strip():
        raise PatternError(f"label must be a non-empty string, got {_describe(label)}", "label")
    if "pattern" not in data:
        raise PatternError("missing 'pattern'", "pattern")
    pattern = data["pattern"]
    if isinstance(pattern, str):
        if not pattern.strip():
            raise PatternError("empty phrase pattern", "pattern")
    elif isinstance(pattern, list | tuple):
        if not pattern:
            raise PatternError("empty token pattern: give at least one token specification", "pattern")
        if not _is_json(pattern):
            raise PatternError("a token pattern must be plain JSON data (lists, dicts, strings, numbers)", "pattern")
        pattern = json.loads(json.dumps(pattern))  # a private copy, lists for tuples
        compile_token_pattern(pattern)  # check it
    else:
        raise PatternError(
            f"pattern must be a string (phrase) or a list of token specifications, got {_describe(pattern)}",
            "pattern",
        )
    record: dict[str, Any] = {"label": label, "pattern": pattern}
    identifier = data.get("id")
    if identifier is not None:
        if not isinstance(identifier, str) or not identifier:
            raise PatternError(f"id must be a non-empty string, got {_describe(identifier)}", "id")
        record["id"] = identifier
    return record


def field_in_list(position: int, field: str | None) -> str:
    """Name a field of the pattern at ``position`` of a list: ``patterns[3].label``."""
    return f"patterns[{position}]" if field is None else f"patterns[{position}].{field}"


def check_patterns(patterns: Iterable[Any], *, validate: bool) -> list[dict[str, Any]]:
    """Check a list of pattern records (see :func:`check_pattern`) and return their normalised copies.

    Raises:
        FormatError: For the first bad record, naming it and its field: ``patterns[3].label``.
    """
    records: list[dict[str, Any]] = []
    for position, data in enumerate(patterns):
        try:
            records.append(check_pattern(data, validate=validate))
        except PatternError as error:
            raise FormatError(error.message, field=field_in_list(position, error.field)) from None
    return records


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
            records.append(check_pattern(data, validate=validate))
        except PatternError as error:
            raise FormatError(error.message, path=path, line=number, field=error.field) from None
    return records
