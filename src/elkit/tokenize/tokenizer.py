"""A rule-based, Unicode-aware English tokenizer that reports exact character offsets.

The text is first cut at whitespace into chunks. Each distinct chunk is split once by the rules
(:func:`elkit.tokenize.splitting.split_chunk`, reading the data in :mod:`elkit.tokenize.rules`) and the result
(token offsets relative to the chunk) is cached, so a repeated chunk costs one dictionary look-up. The offsets of
the chunks themselves are computed with C-level built-ins (``str.split``, ``itertools.accumulate``), which keeps
the common case, a chunk that is one token, free of per-token Python work.

Tokens never contain whitespace and every other character is in exactly one token, so the text can be rebuilt
from the tokens and the whitespace between them.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from itertools import accumulate, chain, compress, repeat
from operator import add, is_not
from operator import index as as_index
from typing import Any, Final

import pydantic

from elkit.batching import check_batch_size
from elkit.doc.doc import Doc
from elkit.errors import ConfigError, DataError
from elkit.registry import tokenizers
from elkit.settings import Settings, validate_settings
from elkit.tokenize.languages import ELISIONS, cjk_lengths, elision_length, has_cjk
from elkit.tokenize.splitting import split_chunk

__all__ = ["Tokenizer", "TokenizerSettings"]

Plan = tuple[tuple[int, ...], tuple[int, ...]]
"""How a chunk splits: token starts and token ends relative to the chunk's start."""

# A unique object meaning "this chunk is one token"; every other plan is built at run time.
_SINGLE: Final[Plan] = ((), ())
# Entries kept in a tokenizer's chunk cache before it is emptied.
_CACHE_LIMIT: Final = 200_000
_WHITESPACE_RE: Final = re.compile(r"\s+")


def _check_special_case(key: str, pieces: Sequence[str]) -> None:
    """Raise ValueError (turned into a ConfigError naming the setting) for a malformed special case."""
    if not key:
        raise ValueError("a special case key must be a non-empty string")
    if any(character.isspace() for character in key):
        raise ValueError(f"special case key {key!r} contains whitespace")
    if not pieces or not all(pieces):
        raise ValueError(f"special case {key!r}: pieces must be a list of non-empty strings, got {list(pieces)!r}")
    if "".join(pieces) != key:
        raise ValueError(f"special case {key!r}: pieces {list(pieces)!r} do not join to the key")


class _StepCache(dict[str, tuple[int, ...]]):
    """Chunk to boundary steps; a miss computes the steps (``__missing__``), so look-ups stay in C."""

    def __init__(self, compute: Callable[[str], tuple[int, ...]]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, chunk: str) -> tuple[int, ...]:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        steps = self[chunk] = self._compute(chunk)
        return steps


class TokenizerSettings(Settings):
    """The tokenizer's settings.

    Attributes:
        special_cases: Whole chunks or token strings mapped to the tokens they split into, overriding the rules:
            ``{"gonna": ["gon", "na"], "C++": ["C++"]}``. The pieces must join to the key.
        lang: The language (``[nlp] lang`` by default): "fr", "it" and "ca" split elided words ("l'" +
            "Élysée"); CJK characters are tokens of their own in every language (see
            :mod:`elkit.tokenize.languages`).
    """

    special_cases: dict[str, list[str]] = {}
    lang: str = pydantic.Field("en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")

    @pydantic.field_validator("special_cases")
    @classmethod
    def _check_special_cases(cls, special_cases: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, pieces in special_cases.items():
            _check_special_case(key, pieces)
        return special_cases


class Tokenizer:
    """Split English text (and text in other scripts) into tokens given as character offsets.

    Args:
        settings: The settings (:class:`TokenizerSettings`).
        **values: The settings as keyword values instead (``special_cases={...}``).

    Raises:
        ConfigError: When a special case is malformed, or both ``settings`` and values are given.

    Example:
        >>> Tokenizer()("Don't panic.").words
        ['Do', "n't", 'panic', '.']
    """

    def __init__(self, settings: TokenizerSettings | None = None, **values: Any) -> None:
        if settings is not None and values:
            raise ConfigError("tokenizer: give settings or keyword values, not both")
        self.settings = settings if settings is not None else validate_settings(TokenizerSettings, values,
                                                                                "tokenizer")
        self._special_lengths = {
            key: [len(piece) for piece in pieces] for key, pieces in self.settings.special_cases.items()
        }
        self._cache: dict[str, Plan] = {}
        self._steps = _StepCache(self._steps_of)
        self._elides = self.settings.lang.split("-")[0] in ELISIONS

    # --- settings ------------------------------------------------------------------------------------------

    @property
    def special_cases(self) -> dict[str, list[str]]:
        """A copy of the special cases: key to token strings."""
        return {key: list(pieces) for key, pieces in self.settings.special_cases.items()}

    def add_special_case(self, key: str, pieces: Sequence[str]) -> None:
        """Make ``key``, as a whole chunk or a piece of one, split into exactly ``pieces``.

        Args:
            key: The chunk or token string.
            pieces: The tokens it becomes; non-empty, without whitespace, joining to ``key``.

        Raises:
            ConfigError: When the key or the pieces are malformed.
        """
        added = validate_settings(TokenizerSettings, {"special_cases": {key: pieces}}, "tokenizer")
        special_cases = {**self.settings.special_cases, **added.special_cases}
        self.settings = self.settings.model_copy(update={"special_cases": special_cases})
        self._special_lengths[key] = [len(piece) for piece in added.special_cases[key]]
        self._clear_caches()

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain TOML-ready data (the pipeline config's tokenizer section)."""
        return self.settings.to_config()

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tokenizer, (self.settings,))

    def __repr__(self) -> str:
        return f"Tokenizer(special_cases={len(self.settings.special_cases)})"

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
        return Doc.from_tokenizer(text, starts, ends)

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Doc]:
        """Tokenize a stream of texts lazily, in order.

        Args:
            texts: The texts.
            batch_size: Accepted for the pipeline interface; texts are tokenized one at a time.

        Raises:
            ConfigError: At once when ``batch_size`` is not a positive integer.
        """
        check_batch_size(batch_size)
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
        lengths = None if " ".join(chunks) == text else list(map(len, chunks))
        chunk_count = len(chunks)
        if lengths is None or sum(lengths) + chunk_count - 1 == len(text):
            # no leading or trailing whitespace and one whitespace character between chunks
            starts, ends = self._single_spaced(chunks)
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

    def _single_spaced(self, chunks: list[str]) -> tuple[list[int], list[int]]:
        """Token offsets of chunks separated by one whitespace character each, with no Python work per chunk.

        Every chunk is also cached as its boundary steps: for each token its length, then the distance to
        the next token's start (0 inside the chunk, 1 for the space after its last token). A running sum over
        the chained steps of all chunks gives start, end, start, end, ... of every token, in C.
        """
        boundaries = list(accumulate(chain.from_iterable(map(self._steps.__getitem__, chunks)), initial=0))
        return boundaries[0:-1:2], boundaries[1::2]

    def _steps_of(self, chunk: str) -> tuple[int, ...]:
        """The boundary steps of one chunk (see `_single_spaced`); the step cache calls this on a miss."""
        plan = self._cache.get(chunk)
        if plan is None:
            plan = self._plan(chunk)
        if plan is _SINGLE:
            return (len(chunk), 1)
        relative_starts, relative_ends = plan
        next_starts = (*relative_starts[1:], relative_ends[-1] + 1)
        return tuple(chain.from_iterable(
            (end - start, next_start - end)
            for start, end, next_start in zip(relative_starts, relative_ends, next_starts, strict=True)))

    def _clear_caches(self) -> None:
        self._cache.clear()
        self._steps.clear()

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
        """Split one chunk by the rules (and the language's, see `_language_lengths`), cache and return it."""
        lengths = split_chunk(chunk, self._special_lengths)
        if chunk not in self._special_lengths and (self._elides or has_cjk(chunk)):
            lengths = self._language_lengths(chunk, lengths)
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


    def _language_lengths(self, chunk: str, lengths: list[int]) -> list[int]:
        """Token lengths with CJK characters split apart and elided words split off (``lang``)."""
        lang = self.settings.lang.split("-")[0]
        result: list[int] = []
        position = 0
        for length in lengths:
            piece = chunk[position: position + length]
            position += length
            offset = 0
            for run, is_cjk in cjk_lengths(piece) if has_cjk(piece) else [(length, False)]:
                text = piece[offset: offset + run]
                offset += run
                while not is_cjk and self._elides and 0 < (elided := elision_length(text, lang)) < len(text):
                    result.append(elided)
                    text = text[elided:]
                result.append(len(text))
        return result

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


@tokenizers.register("elkit.Tokenizer.v1", settings=TokenizerSettings)
def make_tokenizer(settings: TokenizerSettings) -> Tokenizer:
    """The rule-based English tokenizer."""
    return Tokenizer(settings)
