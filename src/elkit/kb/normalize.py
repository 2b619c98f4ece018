"""Alias normalisation: one function, used when a KB is built and when it is queried.

The same settings must be used on both sides, so a KB stores its normaliser's settings in its manifest and
rebuilds the normaliser from them on open.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

__all__ = ["AliasNormalizer", "normalize_alias"]

_ABBREVIATION = re.compile(r"^(?:\w\.){2,}\w?\.?$")
_INITIALS = re.compile(r"(?<!\w)((?:[^\W\d_]\. ?)+[^\W\d_])\.?(?!\w)")
_POSSESSIVE = re.compile(r"(\w)['’]s\b")
_APOSTROPHE = re.compile(r"(\w)['’](?=\w)")
_NON_WORD = re.compile(r"[\W_]+")
_SINGULAR_KEEP = ("ss", "us", "is", "ous", "sis", "ics")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _singular(word: str) -> str:
    if len(word) <= 3 or not word.endswith("s") or word.endswith(_SINGULAR_KEEP) or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    return word[:-1]


@dataclass(frozen=True)
class AliasNormalizer:
    """Turn an alias or a mention into its lookup key.

    Steps, in order: Unicode NFKC; single letters written with dots lose the dots and the spaces between them
    ("U.S", "U. S." and "U.S." → "US"); abbreviations written with dots lose the dots ("U.S." → "US"); case is
    folded; accents are stripped (or, when kept, the text is recomposed to NFC); possessive "'s" is dropped and
    in-word apostrophes are removed ("Crohn's" → "crohn", "O'Neil" → "oneil"); every run of punctuation,
    symbols or whitespace becomes one space; optionally each word is made singular with simple English rules.
    Normalising a key again gives the same key.

    Attributes:
        lowercase: Fold case.
        strip_accents: Remove combining marks after canonical decomposition.
        strip_punctuation: Replace runs of non-word characters by one space.
        abbreviations: Remove the dots of dotted abbreviations.
        singularize: Make each alphabetic word singular ("diseases" → "disease").
        initials: With `abbreviations`, join single letters written with dots ("U. S." → "US"). KBs built before
            this setting read it as off (`from_dict`), so their keys still match.
    """

    lowercase: bool = True
    strip_accents: bool = True
    strip_punctuation: bool = True
    abbreviations: bool = True
    singularize: bool = False
    initials: bool = True

    def __post_init__(self) -> None:
        # A per-instance cache: mentions repeat a lot inside a corpus.
        object.__setattr__(self, "_cached", lru_cache(maxsize=65536)(self._normalize))

    def __reduce__(self) -> tuple[Any, ...]:
        # The per-instance cache cannot be pickled; a copy rebuilds it from the settings.
        return (self.__class__, tuple(asdict(self).values()))

    def __call__(self, text: str) -> str:
        """Return the lookup key of `text` ("" when nothing is left)."""
        return self._cached(text)  # type: ignore[attr-defined]

    def _normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        if self.abbreviations and self.initials and "." in text:
            text = _INITIALS.sub(lambda match: match.group(1).replace(".", "").replace(" ", ""), text)
        if self.abbreviations and "." in text:
            text = " ".join(word.replace(".", "") if _ABBREVIATION.match(word) else word for word in text.split())
        if self.lowercase:
            text = text.casefold()
        text = _strip_accents(text) if self.strip_accents else unicodedata.normalize("NFC", text)
        if "'" in text or "’" in text:
            text = _APOSTROPHE.sub(r"\1", _POSSESSIVE.sub(r"\1", text))
        if self.strip_punctuation:
            text = _NON_WORD.sub(" ", text)
        words = text.split()
        if self.singularize:
            words = [_singular(word) for word in words]
        return " ".join(words)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> AliasNormalizer:
        """Rebuild a normaliser from `to_dict` output."""
        known = {name: bool(value) for name, value in settings.items() if name in cls.__dataclass_fields__}
        known.setdefault("initials", False)  # a KB built before the setting: its keys were made without it
        return cls(**known)


_DEFAULT = AliasNormalizer()


def normalize_alias(text: str) -> str:
    """Normalise `text` with the default settings (see `AliasNormalizer`)."""
    return _DEFAULT(text)
