"""Rule-based sentence segmentation over a tokenized ``Doc``, and the ``Sentencizer`` pipeline component.

A sentence ends after a token made of ".", "!", "?" or "…" (and any closing quotes or brackets attached to
it) when the next token starts with an upper-case or caseless letter, a digit, or an opening quote or
bracket. Full stops of East Asian and Indic scripts ("。", "！", "？", "।") end a sentence whatever follows.
Abbreviations kept whole as tokens ("U.S.", "Inc.", "a.m.") end one only before a word that usually opens a
sentence ("in the U.S. The ..."); titles and similar ("Dr.", "Mrs.", "St.", "e.g.", "No.") never do. A blank
line always ends a sentence, and with ``newline_breaks`` every line break does.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from pathlib import Path
from typing import Any, Final

import pydantic

from elkit.batching import BatchedComponent
from elkit.doc.doc import Doc
from elkit.errors import ConfigError
from elkit.registry import factories
from elkit.settings import Settings, validate_settings

__all__ = ["Sentencizer", "SentencizerSettings", "split_sentences"]

_TERMINAL_CHARACTERS: Final = frozenset(".!?…‼⁇⁈⁉")
_UNCONDITIONAL_TERMINALS: Final = frozenset("。！？｡।॥؟")
_CLOSING: Final = frozenset("\"'”’»›)]}」』】〕〉》）")
_OPENING: Final = frozenset("\"'“‘„«‹([{「『【〔〈《（¿¡")

# Abbreviations after which a sentence practically never ends: a name or a number follows them.
_NEVER_ENDING: Final = frozenset(
    word + "."
    for base in (
        "Mr Mrs Ms Mx Dr Prof Rev Hon Gen Col Lt Sgt Capt Cpl Maj Adm Cmdr Gov Sen Rep Pres Supt Insp Det St Mt "
        "Ft Messrs Mme Mlle Fr No Nos Fig Figs Vol Vols Ch Sec"
    ).split()
    for word in (base, base.upper())
) | frozenset("e.g. i.e. E.g. I.e. cf. Cf. vs. v. viz. approx. ca. pp. incl. esp.".split())
# Abbreviations that usually end a sentence when a capitalised word follows.
_USUALLY_ENDING: Final = frozenset({"etc.", "Etc.", "ETC."})

# Lower-cased words that often open a sentence; after an ambiguous abbreviation one of these means a new
# sentence ("... in the U.S. The company said"), anything else does not ("U.S. President Clinton").
_SENTENCE_OPENERS: Final = frozenset(
    """
    a an the this that these those there here it its he she they we i you his her their our my your
    in on at as but and or so if when while after before since for with from by to of during despite because
    although though however meanwhile also then yet still now today yesterday tomorrow some many most all
    both each one no not other such another what who whom whose which why how where according under over
    shares earlier later last next analysts officials
    """.split()
)

_LINE_BREAK: Final = r"(?:\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029])"
_SPACE_WITHOUT_LINE_BREAK: Final = r"[^\S\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"
_BLANK_LINE_RE: Final = re.compile(rf"{_LINE_BREAK}(?:{_SPACE_WITHOUT_LINE_BREAK}*{_LINE_BREAK})+")
_LINE_BREAK_RE: Final = re.compile(_LINE_BREAK)


def _is_terminal(word: str) -> bool:
    """Return True for a token made only of full stops, question and exclamation marks or ellipses."""
    return all(character in _TERMINAL_CHARACTERS for character in word)


def _opens_sentence(word: str) -> bool:
    """Return True when ``word`` can start a sentence after a full stop."""
    first = word[0]
    if first.isalpha():
        return not first.islower()
    return first.isdigit() or first in _OPENING


def _ends_sentence(word: str, following: str) -> bool:
    """Return True when token ``word`` ends a sentence, given the token ``following`` it."""
    last = word[-1]
    if last in _UNCONDITIONAL_TERMINALS:
        return True
    if last not in _TERMINAL_CHARACTERS:
        return False
    if _is_terminal(word) or word in _USUALLY_ENDING:
        return _opens_sentence(following)
    if last != "." or word in _NEVER_ENDING:
        return False
    # an abbreviation or initial kept whole: end the sentence only before a typical sentence opener
    return following[0].isupper() and following.lower() in _SENTENCE_OPENERS


def split_sentences(doc: Doc, *, newline_breaks: bool = False) -> list[int]:
    """Return the token indices that start a sentence (0 first, for a document with tokens).

    Args:
        doc: The tokenized document.
        newline_breaks: Also start a sentence after every line break, not only after blank lines.
    """
    token_count = len(doc)
    if not token_count:
        return []
    text = doc.text
    token_starts = doc.token_starts
    token_ends = doc.token_ends
    words = doc.words
    starts = {0}

    position = 0
    while position < token_count - 1:
        word = words[position]
        position += 1
        if word[-1] not in _TERMINAL_CHARACTERS and word[-1] not in _UNCONDITIONAL_TERMINALS:
            continue
        # closing quotes and brackets written right after the full stop belong to the sentence it ends
        following = position
        while (
            following < token_count
            and words[following] in _CLOSING
            and token_starts[following] == token_ends[following - 1]
        ):
            following += 1
        if following < token_count and _ends_sentence(word, words[following]):
            starts.add(following)
        position = max(position, following)

    pattern = _LINE_BREAK_RE if newline_breaks else _BLANK_LINE_RE
    for match in pattern.finditer(text):
        following = bisect_left(token_starts, match.end())
        if 0 < following < token_count and token_ends[following - 1] <= match.start():
            starts.add(following)
    return sorted(starts)


class SentencizerSettings(Settings):
    """The sentence splitter's settings.

    Attributes:
        newline_breaks: Start a sentence after every line break, not only after blank lines.
    """

    newline_breaks: pydantic.StrictBool = False


class Sentencizer(BatchedComponent):
    """Pipeline component that sets sentence boundaries with :func:`split_sentences`.

    Args:
        name: The component's name in a pipeline.
        settings: The settings (:class:`SentencizerSettings`).
        **values: The settings as keyword values instead (``newline_breaks=True``).

    Raises:
        ConfigError: A bad setting, or both ``settings`` and values given.
    """

    def __init__(self, name: str = "sentencizer", settings: SentencizerSettings | None = None, **values: Any) -> None:
        if settings is not None and values:
            raise ConfigError(f"{name}: give settings or keyword values, not both")
        self.name = name
        self.settings = settings if settings is not None else validate_settings(SentencizerSettings, values, name)

    @property
    def config(self) -> dict[str, Any]:
        """The component's settings, as its factory takes them."""
        return self.settings.to_config()

    def __call__(self, doc: Doc) -> Doc:
        """Set the sentence boundaries of ``doc`` and return it."""
        doc.set_sentence_starts(split_sentences(doc, newline_breaks=self.settings.newline_breaks))
        return doc

    # --- serialization -------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Return the settings (:attr:`config`) as JSON bytes."""
        return json.dumps(self.config, sort_keys=True).encode("utf-8")

    def from_bytes(self, data: bytes) -> Sentencizer:
        """Load settings written by :meth:`to_bytes` into this component and return it.

        Raises:
            ConfigError: When the data is not valid settings.
        """
        try:
            settings = json.loads(data)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"sentencizer settings are not valid JSON: {error}") from None
        if not isinstance(settings, dict):
            raise ConfigError(f"sentencizer settings must be a JSON object, got {type(settings).__name__}")
        self.settings = validate_settings(SentencizerSettings, settings, f"{self.name} (saved settings)")
        return self

    def to_disk(self, path: str | Path) -> None:
        """Write the settings to ``config.json`` in the directory ``path`` (created when missing)."""
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_bytes(self.to_bytes())

    def from_disk(self, path: str | Path) -> Sentencizer:
        """Load settings from ``config.json`` in the directory ``path`` and return this component.

        Raises:
            ConfigError: When the file is missing or invalid.
        """
        config_path = Path(path) / "config.json"
        try:
            data = config_path.read_bytes()
        except OSError as error:
            raise ConfigError(f"cannot read sentencizer settings {config_path}: {error}") from None
        return self.from_bytes(data)

    def __repr__(self) -> str:
        return f"Sentencizer(name={self.name!r}, newline_breaks={self.settings.newline_breaks})"


@factories.register("elkit.Sentencizer.v1", settings=SentencizerSettings)
def make_sentencizer(name: str, settings: SentencizerSettings) -> Sentencizer:
    """The rule-based sentence splitter."""
    return Sentencizer(name, settings)
