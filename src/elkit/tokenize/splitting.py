"""How one whitespace-free chunk of text splits into tokens: the tokenizer's rules applied to a shrinking piece.

Applied until none applies:

1. A special case (given to the tokenizer) or a protected piece stops the splitting: URLs, e-mail addresses,
   hashtags and @mentions, numbers, abbreviations, emoticons and clitics (see :mod:`elkit.tokenize.rules`).
2. Prefixes come off the front: opening brackets and quotes, currency signs, "¿", "¡", "...", "--", dashes,
   most other punctuation and pictographic symbols (emoji, kept whole with their modifiers).
3. Suffixes come off the back: closing brackets and quotes, ",", ";", ":", "!", "?", "...", "--", contractions
   and clitics, "%", units and currency after a number, and a final period unless it ends an abbreviation or a
   single capital initial ("J.").
4. What is left is split at infixes (see :data:`elkit.tokenize.rules.INFIX_RE`) and around pictographs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from itertools import pairwise

from elkit.tokenize.rules import (
    AFFIX_CHARACTERS,
    APOSTROPHES,
    ATTACHED_PUNCTUATION,
    ATTACHED_SYMBOLS,
    EMOJI_MODIFIERS,
    INFIX_RE,
    PREFIX_ONLY_CHARACTERS,
    PROTECTED_RE,
    PROTECTED_WORDS,
    REGIONAL_INDICATORS,
    UNIT_SUFFIX_RE,
    ZERO_WIDTH_JOINER,
)

__all__ = ["split_chunk"]


def _is_protected(piece: str) -> bool:
    """Return True when ``piece`` must stay one token (URL, number, abbreviation, emoticon, ...)."""
    if piece.isalnum():
        # "10km" splits into a number and a unit
        return not (piece[0].isdigit() and UNIT_SUFFIX_RE.search(piece))
    if piece in PROTECTED_WORDS:
        return True
    if PROTECTED_RE.fullmatch(piece) is None:
        return False
    # Only URLs can end with ")": keep the bracket when it closes one opened inside the URL.
    return not piece.endswith(")") or piece.count("(") >= piece.count(")")


def _is_pictograph(character: str) -> bool:
    return unicodedata.category(character) == "So" and character not in ATTACHED_SYMBOLS


def _pictograph_length_forward(piece: str, start: int) -> int:
    """Return the length of the emoji cluster starting at ``start`` (a pictograph and its modifiers)."""
    length = len(piece)
    position = start + 1
    if piece[start] in REGIONAL_INDICATORS and position < length and piece[position] in REGIONAL_INDICATORS:
        return 2
    while position < length:
        character = piece[position]
        if character in EMOJI_MODIFIERS:
            position += 1
        elif (
            character == ZERO_WIDTH_JOINER and position + 1 < length and _is_pictograph(piece[position + 1])
        ):
            position += 2
        else:
            break
    return position - start


def _pictograph_length_backward(piece: str) -> int:
    """Return the length of the emoji cluster ending ``piece``, or 0 when it does not end with one."""
    position = len(piece)
    while position > 1 and piece[position - 1] in EMOJI_MODIFIERS:
        position -= 1
    if not _is_pictograph(piece[position - 1]):
        return 0
    position -= 1
    if piece[position] in REGIONAL_INDICATORS and position > 0 and piece[position - 1] in REGIONAL_INDICATORS:
        return len(piece) - position + 1
    while position >= 2 and piece[position - 1] == ZERO_WIDTH_JOINER and _is_pictograph(piece[position - 2]):
        position -= 2
    return len(piece) - position


def _is_affix_punctuation(character: str) -> bool:
    """Return True for punctuation that is split off either end of a piece."""
    if character in AFFIX_CHARACTERS:
        return True
    category = unicodedata.category(character)
    if category in ("Ps", "Pe", "Pi", "Pf"):
        return True
    return category == "Po" and character not in ATTACHED_PUNCTUATION


def _run_length_forward(piece: str, character: str) -> int:
    return len(piece) - len(piece.lstrip(character))


def _run_length_backward(piece: str, character: str) -> int:
    return len(piece) - len(piece.rstrip(character))


def _prefix_length(piece: str) -> int:
    """Return the length of the prefix to split off ``piece`` (at least two characters long), or 0."""
    first = piece[0]
    if first == ".":
        dots = _run_length_forward(piece, ".")
        return dots if dots >= 2 else 0
    if first == "-":
        hyphens = _run_length_forward(piece, "-")
        return hyphens if hyphens >= 2 else 0
    if first == "+":
        return 0 if piece[1].isdigit() else 1
    if first == "`" and piece[1] == "`":
        return 2
    if _is_affix_punctuation(first) or first in PREFIX_ONLY_CHARACTERS:
        return 1
    category = unicodedata.category(first)
    if category == "Sc":
        return 1
    if category == "So" and first not in ATTACHED_SYMBOLS:
        return _pictograph_length_forward(piece, 0)
    return 0


def _clitic_length(piece: str) -> int:
    """Return the length of a contraction or clitic ending ``piece`` ("n't", "'s", "'ll", ...), or 0."""
    length = len(piece)
    last = piece[-1]
    if piece[-2] in APOSTROPHES:
        if last in "tT" and length > 3 and piece[-3] in "nN" and piece[-4].isalpha():
            return 3
        if last in "sSmMdD" and length > 2 and piece[-3] not in APOSTROPHES:
            return 2
        return 0
    if (
        length > 3
        and piece[-3] in APOSTROPHES
        and piece[-2:].lower() in ("ll", "re", "ve")
        and piece[-4].isalnum()
    ):
        return 3
    return 0


def _period_splits(piece: str) -> bool:
    """Return True when the period ending ``piece`` is punctuation rather than part of an abbreviation."""
    before = piece[-2]
    if len(piece) == 2 and before.isalpha():
        # single letters with a period are initials or abbreviations: "J.", "p."
        return False
    if before.isdigit() or before.islower() or before in "%²-+":
        return True
    if before.isupper() or before.istitle():
        # "HOME." and "10°C." split
        return len(piece) >= 3 and (piece[-3].isupper() or piece[-3].istitle() or piece[-3] == "°")
    # caseless letters (CJK, Arabic, ...) and punctuation or symbols before the period
    return not before.isalnum() or before.isalpha()


def _suffix_length(piece: str) -> int:
    """Return the length of the suffix to split off ``piece`` (at least two characters long), or 0."""
    last = piece[-1]
    if last == ".":
        dots = _run_length_backward(piece, ".")
        if dots >= 2:
            return dots
        return 1 if _period_splits(piece) else 0
    if last.isalnum():
        clitic = _clitic_length(piece)
        if clitic:
            return clitic
        unit = UNIT_SUFFIX_RE.search(piece)
        return 0 if unit is None else len(piece) - unit.start()
    if last == "-":
        hyphens = _run_length_backward(piece, "-")
        return hyphens if hyphens >= 2 else 0
    if last == "'" and piece[-2] == "'":
        return 2
    if last == "+":
        return 1 if piece[-2].isdigit() else 0
    if _is_affix_punctuation(last):
        return 1
    category = unicodedata.category(last)
    if category == "Sc":
        return 1 if piece[-2].isdigit() else 0
    return _pictograph_length_backward(piece)


def _infix_lengths(piece: str) -> list[int]:
    """Split a piece that has no prefix or suffix left at its infixes; return the token lengths."""
    cuts = {0, len(piece)}
    last_cut = 0
    for match in INFIX_RE.finditer(piece):
        start, end = match.span()
        if piece[start] == "." and end - start == 1:
            # a period between letters splits only between a lower-case and an upper-case letter, and stays
            # with an abbreviation before it ("Dr.Smith", "i.e.The")
            if not (piece[start - 1].islower() and piece[end].isupper()):
                continue
            if _is_protected(piece[last_cut:end]):
                cuts.add(end)
                last_cut = end
                continue
        cuts.add(start)
        cuts.add(end)
        last_cut = end
    if not piece.isascii():
        position = 0
        length = len(piece)
        while position < length:
            if _is_pictograph(piece[position]):
                cluster = _pictograph_length_forward(piece, position)
                cuts.add(position)
                cuts.add(position + cluster)
                position += cluster
            else:
                position += 1
    if len(cuts) == 2:
        return [len(piece)]
    ordered = sorted(cuts)
    return [end - start for start, end in pairwise(ordered)]


def split_chunk(chunk: str, special_lengths: Mapping[str, list[int]]) -> list[int]:
    """Return the lengths of the tokens ``chunk`` (non-empty, without whitespace) splits into.

    Args:
        chunk: The chunk.
        special_lengths: Special cases: a piece mapped to the lengths of the tokens it becomes.
    """
    front: list[int] = []
    back: list[int] = []
    middle: list[int] = []
    piece = chunk
    while piece:
        special = special_lengths.get(piece)
        if special is not None:
            middle = special
            break
        if len(piece) == 1 or _is_protected(piece):
            middle = [len(piece)]
            break
        length = _prefix_length(piece)
        if length:
            front.append(length)
            piece = piece[length:]
            continue
        length = _suffix_length(piece)
        if length:
            back.append(length)
            piece = piece[:-length]
            continue
        middle = _infix_lengths(piece)
        break
    back.reverse()
    return front + middle + back
