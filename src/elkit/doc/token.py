"""Token: a light view of one token of a ``Doc``; it holds no data of its own."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elkit.doc.doc import Doc

__all__ = ["Token", "word_shape"]

_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion".split()
)


def word_shape(text: str, max_run: int = 4) -> str:
    """Return the word shape of ``text``: "Xxxx" for "Apple", "dd.d" for "12.5".

    Runs of the same character class longer than ``max_run`` are cut at ``max_run``.

    Args:
        text: The token text.
        max_run: The longest run of one shape character kept.
    """
    shape: list[str] = []
    last = ""
    run = 0
    for character in text:
        if character.isalpha():
            kind = "X" if character.isupper() else "x"
        elif character.isdigit():
            kind = "d"
        else:
            kind = character
        run = run + 1 if kind == last else 1
        last = kind
        if run <= max_run:
            shape.append(kind)
    return "".join(shape)


class Token:
    """One token of a document, read through the document's offset arrays.

    Attributes:
        doc: The document.
        i: The token's index in the document.
    """

    __slots__ = ("doc", "i")

    def __init__(self, doc: Doc, index: int) -> None:
        self.doc = doc
        self.i = index

    @property
    def idx(self) -> int:
        """Character offset of the token's start."""
        return self.doc.token_starts[self.i]

    @property
    def end_char(self) -> int:
        """Character offset one past the token's end."""
        return self.doc.token_ends[self.i]

    @property
    def text(self) -> str:
        """The token's text."""
        return self.doc.text[self.idx : self.end_char]

    @property
    def whitespace(self) -> str:
        """The whitespace between this token and the next one (or the end of the text)."""
        following = self.doc.token_starts[self.i + 1] if self.i + 1 < len(self.doc) else len(self.doc.text)
        return self.doc.text[self.end_char : following]

    @property
    def text_with_ws(self) -> str:
        """The token's text followed by its whitespace."""
        return self.text + self.whitespace

    @property
    def is_sent_start(self) -> bool | None:
        """True if the token starts a sentence; None when the document has no sentence boundaries."""
        return self.doc.is_sentence_start(self.i)

    @property
    def lower(self) -> str:
        """The lower-cased text."""
        return self.text.lower()

    @property
    def norm(self) -> str:
        """The text lower-cased with compatibility forms folded (NFKC)."""
        return unicodedata.normalize("NFKC", self.text).lower()

    @property
    def shape(self) -> str:
        """The word shape, as :func:`word_shape` gives it."""
        return word_shape(self.text)

    @property
    def prefix(self) -> str:
        """The first character."""
        return self.text[:1]

    @property
    def suffix(self) -> str:
        """The last three characters."""
        return self.text[-3:]

    @property
    def is_alpha(self) -> bool:
        """True if every character is a letter."""
        return self.text.isalpha()

    @property
    def is_digit(self) -> bool:
        """True if every character is a digit."""
        return self.text.isdigit()

    @property
    def is_upper(self) -> bool:
        """True if the token is upper case."""
        return self.text.isupper()

    @property
    def is_lower(self) -> bool:
        """True if the token is lower case."""
        return self.text.islower()

    @property
    def is_title(self) -> bool:
        """True if the token is title case."""
        return self.text.istitle()

    @property
    def is_punct(self) -> bool:
        """True if every character is Unicode punctuation."""
        return all(unicodedata.category(character).startswith("P") for character in self.text)

    @property
    def is_space(self) -> bool:
        """True if the token is whitespace only."""
        return self.text.isspace()

    @property
    def like_num(self) -> bool:
        """True if the token looks like a number: "10", "1,000.5", "3/4", "-2", "seven"."""
        text = self.text.lstrip("+-±~")
        text = text.replace(",", "").replace(".", "", 1)
        if text.isdigit():
            return True
        if text.count("/") == 1:
            numerator, denominator = text.split("/")
            if numerator.isdigit() and denominator.isdigit():
                return True
        return self.text.lower() in _NUMBER_WORDS

    def get(self, attribute: str) -> str | None:
        """Return a per-token attribute the document carries (such as "pos" from a CoNLL file).

        Args:
            attribute: The attribute's name in ``doc.token_attrs``.
        """
        values = self.doc.token_attrs.get(attribute)
        return None if values is None else values[self.i]

    def __len__(self) -> int:
        return self.end_char - self.idx

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Token({self.text!r}, i={self.i}, idx={self.idx})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Token):
            return NotImplemented
        return self.doc is other.doc and self.i == other.i

    def __hash__(self) -> int:
        return hash((id(self.doc), self.i))
