"""A rule-based, Unicode-aware English tokenizer that reports exact character offsets.

The text is first cut at whitespace into chunks. Each distinct chunk is split once by the rules below and the
result (token offsets relative to the chunk) is cached, so a repeated chunk costs one dictionary look-up. The
offsets of the chunks themselves are computed with C-level built-ins (``str.split``, ``itertools.accumulate``),
which keeps the common case, a chunk that is one token, free of per-token Python work.

The rules for one chunk, applied to a shrinking middle piece until none applies:

1. A special case (given to the constructor) or a protected piece stops the splitting: URLs, e-mail
   addresses, hashtags and @mentions, numbers ("1,000.50", "-2", "10/20", "1996-08-22", "12:30"),
   abbreviations ("U.S.", "e.g.", "Dr.", "Inc.", "Jan."), emoticons (":)", "<3") and clitics ("'s", "n't").
2. Prefixes come off the front: opening brackets and quotes, currency signs, "¿", "¡", "...", "--", dashes,
   most other punctuation and pictographic symbols (emoji, kept whole with their modifiers).
3. Suffixes come off the back: closing brackets and quotes, ",", ";", ":", "!", "?", "...", "--", contractions
   and clitics ("n't", "'s", "'m", "'re", "'ve", "'ll", "'d"), "%", units and currency after a number, and a
   final period unless it ends an abbreviation or a single capital initial ("J.").
4. What is left is split at infixes: ellipses, "--" and em dashes anywhere; a hyphen between a letter or digit
   and a letter ("well-known"); a comma between letters; ":", "<", ">", "=", "/" before a letter ("and/or");
   a period between a lower-case and an upper-case letter; "+", "*", "^" between digits; pictographic symbols.

Tokens never contain whitespace and every other character is in exactly one token, so the text can be rebuilt
from the tokens and the whitespace between them.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, compress, pairwise, repeat
from operator import add, is_not
from operator import index as as_index
from typing import Any, Final

from elkit.doc.doc import Doc
from elkit.errors import ConfigError, DataError
from elkit.registry import tokenizers

__all__ = ["Tokenizer"]

Plan = tuple[tuple[int, ...], tuple[int, ...]]
"""How a chunk splits: token starts and token ends relative to the chunk's start."""

# A unique object meaning "this chunk is one token"; every other plan is built at run time.
_SINGLE: Final[Plan] = ((), ())
# Entries kept in a tokenizer's chunk cache before it is emptied.
_CACHE_LIMIT: Final = 200_000

_APOSTROPHES: Final = "'’"

# Characters split off the front or the back of a piece whatever their Unicode category.
_AFFIX_CHARACTERS: Final = frozenset("\"'`´‘’‚‛“”„‟«»‹›()[]{}<>,;:!?¿¡…*&_§%–—")
# Characters split off the front only.
_PREFIX_ONLY_CHARACTERS: Final = frozenset("=")
# Punctuation (category Po) that stays attached: periods have their own rules, the rest belong to
# hashtags, mentions, e-mail addresses, paths and words such as "l·l".
_ATTACHED_PUNCTUATION: Final = frozenset(".#@/\\·")
# Characters that keep an emoji together with the pictograph before them.
_EMOJI_MODIFIERS: Final = frozenset(
    ["\ufe0e", "\ufe0f", "\u20e3", *map(chr, range(0x1F3FB, 0x1F400)), *map(chr, range(0xE0020, 0xE0080))]
)
_ZERO_WIDTH_JOINER: Final = "\u200d"
_REGIONAL_INDICATORS: Final = frozenset(map(chr, range(0x1F1E6, 0x1F200)))
# Pictographic symbols (category So) that are ordinary word material.
_ATTACHED_SYMBOLS: Final = frozenset("°")

_TITLES: Final = (
    "Mr Mrs Ms Mx Dr Prof Rev Hon Gen Col Lt Sgt Capt Cpl Maj Adm Cmdr Gov Sen Rep Pres Supt Insp Det St Mt "
    "Ft Messrs Mme Mlle Fr Jr Sr"
).split()
_CAPITALISED_ABBREVIATIONS: Final = (
    "Inc Ltd Co Corp Bros Dept Univ Assn Ave Blvd Rd Hwy Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec "
    "Mon Tue Tues Wed Thu Thur Thurs Fri Sat No Nos Fig Figs Vol Vols Ch Sec Ala Ariz Ark Calif Colo Conn Del "
    "Fla Ga Ill Ind Kan Kans Ky La Md Mass Mich Minn Miss Mo Mont Neb Nev Okla Ore Pa Tenn Tex Va Vt Wash Wis "
    "Wyo"
).split()
_LOWER_CASE_ABBREVIATIONS: Final = "etc vs v cf al approx ca esp incl excl viz resp misc pp dept est".split()
_UPPER_CASE_ABBREVIATIONS: Final = [
    word.upper()
    for word in (*_TITLES, *"Inc Ltd Co Corp Bros Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split())
]
_ABBREVIATIONS: Final = frozenset(
    word + "."
    for word in (*_TITLES, *_CAPITALISED_ABBREVIATIONS, *_LOWER_CASE_ABBREVIATIONS, *_UPPER_CASE_ABBREVIATIONS)
)

_EMOTICONS: Final = frozenset(
    """
    :) :-) :)) :-)) :( :-( :(( :-(( ;) ;-) ;( ;-( :D :-D ;D :P :-P :p :-p ;P ;p :O :-O :o :-o :/ :-/ :\\ :-\\
    :| :-| :] :-] :[ :-[ :* :-* :3 :'( :'-( :') :'-) :> :-> :< :-< :S :-S :$ =) =( =D =] =[ =/ =P <3 </3 <33
    ^_^ ^^ ^.^ -_- -.- o_O O_o o.O O.o o_o O_O >_< >.< xD XD xP XP
    """.split()
)
_CLITICS: Final = frozenset(
    apostrophe.join(parts)
    for apostrophe in _APOSTROPHES
    for word in ("_s", "_m", "_d", "_ll", "_re", "_ve", "n_t")
    for variant in (word, word.upper())
    for parts in [variant.split("_")]
)
_PROTECTED_WORDS: Final = _ABBREVIATIONS | _EMOTICONS | _CLITICS | {"``", "''", "w/", "w/o"}

_TOP_LEVEL_DOMAINS: Final = (
    "com|org|net|edu|gov|mil|int|info|biz|io|ai|app|dev|co|uk|us|ca|au|de|fr|es|it|nl|eu|ru|cn|jp|in|ch|se|no|br"
)
_URL_END: Final = r"[\w/#=&~+%\-)]"
_PROTECTED_RE: Final = re.compile(
    # numbers, dates, times, fractions and ranges
    r"[+\-±−]?\d+(?:[.,:/\-–]\d+)*"
    # abbreviations made of letters and periods
    r"|[^\W\d_]{1,2}(?:\.[^\W\d_]{1,2})+\."
    # URLs with a scheme or "www."
    rf"|(?i:(?:[a-z][a-z0-9+.\-]*://|www\d{{0,3}}\.)\S*{_URL_END})"
    # bare domain names followed by a port or a path (a bare domain alone stays whole anyway)
    rf"|[\w\-]+(?:\.[\w\-]+)*\.(?:{_TOP_LEVEL_DOMAINS})(?::\d+|(?::\d+)?[/?#]\S*{_URL_END})"
    # e-mail addresses
    r"|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"
    # hashtags and mentions
    r"|[#@]\w+"
)

_UNITS: Final = (
    "°C|°F|°K|km|cm|mm|µm|nm|m|mi|yd|ft|kg|mg|µg|g|lbs|lb|oz|ml|ha|mph|kph|kmh|km/h|m/s|hPa|Pa|mbar|kb|KB|MB|mb|GB|gb|"
    "TB|tb|kW|kWh|MW|GW|Hz|kHz|MHz|GHz"
)
_UNIT_SUFFIX_RE: Final = re.compile(rf"(?<=\d)(?:{_UNITS})\Z")

_LETTER: Final = r"[^\W\d_]"
_LETTER_OR_DIGIT: Final = r"[^\W_]"
# East Asian punctuation ("。", "、", "！", ...) splits wherever it is: those scripts do not use spaces.
_EAST_ASIAN_PUNCTUATION: Final = "".join(
    character
    for code_point in (*range(0x3000, 0x3040), *range(0xFF00, 0xFF66))
    if unicodedata.category(character := chr(code_point)).startswith("P")
)
_INFIX_RE: Final = re.compile(
    rf"[{re.escape(_EAST_ASIAN_PUNCTUATION)}]"
    r"|\.{2,}|…"
    r"|-{2,}|[—―]"
    rf"|(?<={_LETTER_OR_DIGIT})[-‐‑–~](?={_LETTER})"
    rf"|(?<={_LETTER}),(?={_LETTER})"
    rf"|(?<={_LETTER_OR_DIGIT})[:<>=/](?={_LETTER})"
    rf"|(?<={_LETTER})\.(?={_LETTER})"
    r"|(?<=\d)[+*^](?=\d)"
)
_WHITESPACE_RE: Final = re.compile(r"\s+")


def _is_protected(piece: str) -> bool:
    """Return True when ``piece`` must stay one token (URL, number, abbreviation, emoticon, ...)."""
    if piece.isalnum():
        # "10km" splits into a number and a unit
        return not (piece[0].isdigit() and _UNIT_SUFFIX_RE.search(piece))
    if piece in _PROTECTED_WORDS:
        return True
    if _PROTECTED_RE.fullmatch(piece) is None:
        return False
    # Only URLs can end with ")": keep the bracket when it closes one opened inside the URL.
    return not piece.endswith(")") or piece.count("(") >= piece.count(")")


def _is_pictograph(character: str) -> bool:
    return unicodedata.category(character) == "So" and character not in _ATTACHED_SYMBOLS


def _pictograph_length_forward(piece: str, start: int) -> int:
    """Return the length of the emoji cluster starting at ``start`` (a pictograph and its modifiers)."""
    length = len(piece)
    position = start + 1
    if piece[start] in _REGIONAL_INDICATORS and position < length and piece[position] in _REGIONAL_INDICATORS:
        return 2
    while position < length:
        character = piece[position]
        if character in _EMOJI_MODIFIERS:
            position += 1
        elif (
            character == _ZERO_WIDTH_JOINER and position + 1 < length and _is_pictograph(piece[position + 1])
        ):
            position += 2
        else:
            break
    return position - start


def _pictograph_length_backward(piece: str) -> int:
    """Return the length of the emoji cluster ending ``piece``, or 0 when it does not end with one."""
    position = len(piece)
    while position > 1 and piece[position - 1] in _EMOJI_MODIFIERS:
        position -= 1
    if not _is_pictograph(piece[position - 1]):
        return 0
    position -= 1
    if piece[position] in _REGIONAL_INDICATORS and position > 0 and piece[position - 1] in _REGIONAL_INDICATORS:
        return len(piece) - position + 1
    while position >= 2 and piece[position - 1] == _ZERO_WIDTH_JOINER and _is_pictograph(piece[position - 2]):
        position -= 2
    return len(piece) - position


def _is_affix_punctuation(character: str) -> bool:
    """Return True for punctuation that is split off either end of a piece."""
    if character in _AFFIX_CHARACTERS:
        return True
    category = unicodedata.category(character)
    if category in ("Ps", "Pe", "Pi", "Pf"):
        return True
    return category == "Po" and character not in _ATTACHED_PUNCTUATION


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
    if _is_affix_punctuation(first) or first in _PREFIX_ONLY_CHARACTERS:
        return 1
    category = unicodedata.category(first)
    if category == "Sc":
        return 1
    if category == "So" and first not in _ATTACHED_SYMBOLS:
        return _pictograph_length_forward(piece, 0)
    return 0


def _clitic_length(piece: str) -> int:
    """Return the length of a contraction or clitic ending ``piece`` ("n't", "'s", "'ll", ...), or 0."""
    length = len(piece)
    last = piece[-1]
    if piece[-2] in _APOSTROPHES:
        if last in "tT" and length > 3 and piece[-3] in "nN" and piece[-4].isalpha():
            return 3
        if last in "sSmMdD" and length > 2 and piece[-3] not in _APOSTROPHES:
            return 2
        return 0
    if (
        length > 3
        and piece[-3] in _APOSTROPHES
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
        unit = _UNIT_SUFFIX_RE.search(piece)
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
    for match in _INFIX_RE.finditer(piece):
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


class Tokenizer:
    """Split English text (and text in other scripts) into tokens given as character offsets.

    Args:
        special_cases: Whole chunks or token strings mapped to the tokens they split into, overriding the
            rules: ``{"gonna": ["gon", "na"], "C++": ["C++"]}``. The pieces must join to the key.

    Raises:
        ConfigError: When a special case is malformed.

    Example:
        >>> Tokenizer()("Don't panic.").words
        ['Do', "n't", 'panic', '.']
    """

    def __init__(self, special_cases: Mapping[str, Sequence[str]] | None = None) -> None:
        self._special_cases: dict[str, tuple[str, ...]] = {}
        self._special_lengths: dict[str, list[int]] = {}
        self._cache: dict[str, Plan] = {}
        for key, pieces in (special_cases or {}).items():
            self.add_special_case(key, pieces)

    # --- settings ------------------------------------------------------------------------------------------

    @property
    def special_cases(self) -> dict[str, list[str]]:
        """A copy of the special cases: key to token strings."""
        return {key: list(pieces) for key, pieces in self._special_cases.items()}

    def add_special_case(self, key: str, pieces: Sequence[str]) -> None:
        """Make ``key``, as a whole chunk or a piece of one, split into exactly ``pieces``.

        Args:
            key: The chunk or token string.
            pieces: The tokens it becomes; non-empty, without whitespace, joining to ``key``.

        Raises:
            ConfigError: When the key or the pieces are malformed.
        """
        if not isinstance(key, str) or not key:
            raise ConfigError(f"special case key must be a non-empty string, got {key!r}")
        if any(character.isspace() for character in key):
            raise ConfigError(f"special case key {key!r} contains whitespace")
        if isinstance(pieces, str) or not all(isinstance(piece, str) and piece for piece in pieces):
            raise ConfigError(f"special case {key!r}: pieces must be a list of non-empty strings, got {pieces!r}")
        if "".join(pieces) != key:
            raise ConfigError(f"special case {key!r}: pieces {list(pieces)!r} do not join to the key")
        self._special_cases[key] = tuple(pieces)
        self._special_lengths[key] = [len(piece) for piece in pieces]
        self._cache.clear()

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON-ready data."""
        return {"special_cases": self.special_cases}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tokenizer:
        """Build a tokenizer from :meth:`to_dict` output.

        Raises:
            ConfigError: When the data has unknown keys or malformed special cases.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"tokenizer settings must be a mapping, got {type(data).__name__}")
        unknown = set(data) - {"special_cases"}
        if unknown:
            raise ConfigError(f"unknown tokenizer settings: {sorted(unknown)}")
        special_cases = data.get("special_cases") or {}
        if not isinstance(special_cases, Mapping):
            raise ConfigError("tokenizer setting special_cases must be a mapping")
        return cls(special_cases)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tokenizer, (self.special_cases,))

    def __repr__(self) -> str:
        return f"Tokenizer(special_cases={len(self._special_cases)})"

    # --- tokenizing ----------------------------------------------------------------------------------------

    def __call__(self, text: str, boundaries: Collection[int] | None = None) -> Doc:
        """Tokenize ``text`` into a ``Doc``.

        Args:
            text: The text.
            boundaries: Character offsets where a token boundary must fall (see :meth:`tokenize_offsets`).

        Raises:
            DataError: When the text is not a string or a boundary is outside it.
        """
        starts, ends = self.tokenize_offsets(text, boundaries)
        return Doc(text, starts, ends, validate=False)

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Doc]:
        """Tokenize a stream of texts lazily.

        Args:
            texts: The texts.
            batch_size: Accepted for the pipeline interface; texts are tokenized one at a time.

        Raises:
            ConfigError: When ``batch_size`` is not positive.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        return map(self, texts)

    def tokenize_offsets(
        self, text: str, boundaries: Collection[int] | None = None
    ) -> tuple[list[int], list[int]]:
        """Return the token starts and token ends of ``text`` as character offsets.

        Args:
            text: The text.
            boundaries: Character offsets where a token must start or end, such as the offsets of annotated
                mentions; a token that straddles one is cut there. Offsets inside whitespace change nothing.

        Raises:
            DataError: When the text is not a string or a boundary is not an offset within the text.
        """
        if not isinstance(text, str):
            raise DataError(f"the tokenizer needs a string, got {type(text).__name__}")
        chunks = text.split()
        if not chunks:
            if boundaries:
                self._check_boundaries(text, boundaries)
            return [], []
        lengths = list(map(len, chunks))
        chunk_count = len(chunks)
        if sum(lengths) + chunk_count - 1 == len(text):
            # no leading or trailing whitespace and a single whitespace character between chunks
            starts = list(accumulate(map(add, lengths, repeat(1)), initial=0))
        else:
            gap_lengths = list(map(len, _WHITESPACE_RE.findall(text)))
            if text[0].isspace():
                starts = list(accumulate(map(add, lengths, gap_lengths[1:]), initial=gap_lengths[0]))
            else:
                starts = list(accumulate(map(add, lengths, gap_lengths), initial=0))
        del starts[chunk_count:]
        ends = list(map(add, starts, lengths))

        plans = list(map(self._cache.get, chunks))
        if plans.count(_SINGLE) != chunk_count:
            starts, ends = self._split_chunks(chunks, plans, starts, ends)
        if boundaries:
            starts, ends = self._apply_boundaries(text, starts, ends, boundaries)
        return starts, ends

    def _split_chunks(
        self, chunks: list[str], plans: list[Plan | None], starts: list[int], ends: list[int]
    ) -> tuple[list[int], list[int]]:
        """Replace the chunks that are more than one token by their tokens."""
        token_starts: list[int] = []
        token_ends: list[int] = []
        previous = 0
        plan_for = self._plan
        for position in compress(range(len(chunks)), map(is_not, plans, repeat(_SINGLE))):
            plan = plans[position]
            if plan is None:
                plan = plan_for(chunks[position])
                if plan is _SINGLE:
                    continue
            if previous < position:
                token_starts += starts[previous:position]
                token_ends += ends[previous:position]
            base = starts[position]
            relative_starts, relative_ends = plan
            token_starts.extend(map(base.__add__, relative_starts))
            token_ends.extend(map(base.__add__, relative_ends))
            previous = position + 1
        if previous == 0:
            return starts, ends
        token_starts += starts[previous:]
        token_ends += ends[previous:]
        return token_starts, token_ends

    def _plan(self, chunk: str) -> Plan:
        """Split one chunk by the rules, cache the result and return it."""
        lengths = self._token_lengths(chunk)
        if len(lengths) == 1:
            plan = _SINGLE
        else:
            cuts = list(accumulate(lengths, initial=0))
            plan = (tuple(cuts[:-1]), tuple(cuts[1:]))
        cache = self._cache
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[chunk] = plan
        return plan

    def _token_lengths(self, chunk: str) -> list[int]:
        """Return the lengths of the tokens ``chunk`` splits into."""
        special_lengths = self._special_lengths
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

    @staticmethod
    def _check_boundaries(text: str, boundaries: Iterable[int]) -> list[int]:
        checked: list[int] = []
        text_length = len(text)
        for boundary in boundaries:
            try:
                offset = as_index(boundary)
            except TypeError:
                raise DataError(f"token boundary {boundary!r} is not an integer offset") from None
            if not 0 <= offset <= text_length:
                raise DataError(f"token boundary {offset} is outside the text ({text_length} characters)")
            checked.append(offset)
        return checked

    def _apply_boundaries(
        self, text: str, starts: list[int], ends: list[int], boundaries: Iterable[int]
    ) -> tuple[list[int], list[int]]:
        """Cut every token that straddles one of ``boundaries`` at that offset."""
        cuts: dict[int, set[int]] = {}
        for offset in self._check_boundaries(text, boundaries):
            position = bisect_right(starts, offset) - 1
            if position >= 0 and starts[position] < offset < ends[position]:
                cuts.setdefault(position, set()).add(offset)
        if not cuts:
            return starts, ends
        token_starts: list[int] = []
        token_ends: list[int] = []
        previous = 0
        for position in sorted(cuts):
            token_starts += starts[previous:position]
            token_ends += ends[previous:position]
            offsets = sorted(cuts[position])
            token_starts.append(starts[position])
            token_starts += offsets
            token_ends += offsets
            token_ends.append(ends[position])
            previous = position + 1
        token_starts += starts[previous:]
        token_ends += ends[previous:]
        return token_starts, token_ends


@tokenizers.register("elkit.Tokenizer.v1")
def make_tokenizer(special_cases: Mapping[str, Sequence[str]] | None = None) -> Tokenizer:
    """The rule-based English tokenizer."""
    return Tokenizer(special_cases=special_cases)
