"""The matching engine of the entity ruler: every match of every compiled pattern in a document.

Phrase patterns are looked up in a dict keyed by token tuples (only n-grams whose first token starts some phrase
are tried) and token patterns are indexed by a literal value of their first token (``ORTH``, ``LOWER`` and so on,
``IN`` lists included), so thousands of patterns cost little more than a few. A token pattern whose first token
is optional or has no literal test is tried at every position; unbounded wildcards (``{"OP": "*"}``) over long
documents cost time quadratic in the document's length, as in any matcher that reports every match.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from elkit.doc import Doc
from elkit.ner.patterns import Step, compile_token_pattern

__all__ = ["MatchEntry", "Matcher", "TokenColumns", "match_ends"]


class TokenColumns(dict[str, list[Any]]):
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


def match_ends(steps: tuple[Step, ...], columns: TokenColumns, start: int, length: int) -> set[int]:
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


class MatchEntry(NamedTuple):
    """What a pattern writes on its matches: the label and the pattern's id."""

    label: str
    identifier: str | None


class Matcher:
    """The compiled patterns: a phrase table, token patterns indexed by their first token, and their labels.

    Args:
        phrase_attribute: What phrase patterns compare: "ORTH" or "LOWER".
        tokenizer: Tokenizes phrase patterns (the pipeline's tokenizer, so a phrase splits as text does).

    Attributes:
        attempts: Candidate checks made so far: phrase-table probes past a token that starts some phrase, and
            token patterns tried at a position. Indexing keeps it independent of the number of patterns that
            cannot match there; tests count it instead of timing the matcher.
    """

    def __init__(self, phrase_attribute: str, tokenizer: Callable[[str], Doc]) -> None:
        self.phrase_attribute = phrase_attribute
        self.tokenizer = tokenizer
        self.entries: list[MatchEntry] = []
        self.phrases: dict[tuple[str, ...], list[int]] = {}
        self.phrase_lengths: dict[str, set[int]] = {}
        self.token_patterns: dict[int, tuple[Step, ...]] = {}
        self.token_index: dict[str, dict[Any, list[int]]] = {}
        self.unindexed: list[int] = []
        self.attempts = 0

    def add(self, record: Mapping[str, Any]) -> None:
        """Compile a checked pattern record (see :func:`elkit.ner.patterns.check_pattern`) and add it."""
        number = len(self.entries)
        pattern = record["pattern"]
        if isinstance(pattern, str):
            words = self.tokenizer(pattern).words
            key = tuple(word.lower() for word in words) if self.phrase_attribute == "LOWER" else tuple(words)
            self.phrases.setdefault(key, []).append(number)
            self.phrase_lengths.setdefault(key[0], set()).add(len(key))
        else:
            steps = compile_token_pattern(pattern)
            self.token_patterns[number] = steps
            indexed = steps[0].index_values()
            if indexed is None:
                self.unindexed.append(number)
            else:
                attribute, values = indexed
                table = self.token_index.setdefault(attribute, {})
                for value in values:
                    table.setdefault(value, []).append(number)
        self.entries.append(MatchEntry(record["label"], record.get("id")))

    def matches(self, doc: Doc) -> list[tuple[int, int, int]]:
        """Return every (start, end, pattern number) match in ``doc``, empty matches left out."""
        length = len(doc)
        found: list[tuple[int, int, int]] = []
        if not length or not self.entries:
            return found
        columns = TokenColumns(doc)
        attempts = 0
        if self.phrases:
            keys = columns[self.phrase_attribute]
            phrases = self.phrases
            phrase_lengths = self.phrase_lengths
            for start, key in enumerate(keys):
                lengths = phrase_lengths.get(key)
                if lengths is None:
                    continue
                attempts += len(lengths)
                for size in lengths:
                    end = start + size
                    if end <= length:
                        for number in phrases.get(tuple(keys[start:end]), ()):
                            found.append((start, end, number))
        token_patterns = self.token_patterns
        for attribute, table in self.token_index.items():
            for start, value in enumerate(columns[attribute]):
                candidates = table.get(value)
                if candidates is None:
                    continue
                attempts += len(candidates)
                for number in candidates:
                    for end in match_ends(token_patterns[number], columns, start, length):
                        if end > start:
                            found.append((start, end, number))
        for number in self.unindexed:
            steps = token_patterns[number]
            attempts += length
            for start in range(length):
                for end in match_ends(steps, columns, start, length):
                    if end > start:
                        found.append((start, end, number))
        self.attempts += attempts
        return found
