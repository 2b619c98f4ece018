"""What the tokenizer does differently by language: per-character CJK tokens, and elided articles and pronouns.

* Chinese and Japanese write no spaces between words, and the tokenizer has no dictionary: every Han, kana and
  CJK punctuation character is a token of its own, so that any character boundary can be a span boundary
  ("北京" in "我爱北京天安门" is two tokens of a span). This holds in every language, for CJK text inside
  English as well.
* French, Italian and Catalan elide a short word before a vowel: "l'Élysée", "qu'aujourd'hui", "dell'Italia".
  With ``lang`` set to one of them the elided word is a token of its own ("l'" + "Élysée"), as in spaCy, except
  in words that are written with an apostrophe ("aujourd'hui", "prud'homme").
"""

from __future__ import annotations

import re

__all__ = ["ELISIONS", "cjk_lengths", "elision_length", "has_cjk"]

_CJK_CHARACTERS = (
    "\u3000-\u303f"  # CJK symbols and punctuation
    "\u3040-\u309f"  # hiragana
    "\u30a0-\u30ff"  # katakana
    "\u31f0-\u31ff"  # katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"  # full-width punctuation
    "\uff66-\uff9f"  # half-width katakana
    "\U00020000-\U0002fa1f"  # CJK extensions B onwards and compatibility supplement
)
_CJK_RE = re.compile(f"[{_CJK_CHARACTERS}]")

ELISIONS: dict[str, tuple[str, ...]] = {
    "fr": ("l", "d", "j", "m", "n", "s", "t", "c", "ç", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu", "presqu"),
    "it": ("l", "d", "dell", "dall", "nell", "sull", "all", "coll", "un", "quest", "quell", "c", "m", "t", "s",
           "v", "anch", "nient", "senz", "tutt", "com", "dov", "cos", "mezz", "quand", "bell", "buon", "sant",
           "nessun"),
    "ca": ("l", "d", "s", "n", "m", "t"),
}
"""Per language, the words that are elided before a vowel (lower case, without the apostrophe)."""

_WRITTEN_WITH_APOSTROPHE = frozenset({
    "aujourd'hui", "prud'homme", "prud'hommes", "prud'homal", "prud'homale", "presqu'île", "presqu'îles",
    "quelqu'un", "quelqu'une", "entr'acte", "n't",  # the last: English "don't" split by the general rules
})
_ELISION_RES = {
    lang: re.compile(r"(?i)(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")['’](?=\w)")
    for lang, words in ELISIONS.items()
}


def has_cjk(text: str) -> bool:
    """Whether `text` holds a CJK character (see the module docstring)."""
    return _CJK_RE.search(text) is not None


def cjk_lengths(piece: str) -> list[tuple[int, bool]]:
    """Runs of `piece` as (length, is_cjk): each CJK character a run of its own, other text in maximal runs."""
    runs: list[tuple[int, bool]] = []
    position = 0
    for match in _CJK_RE.finditer(piece):
        if match.start() > position:
            runs.append((match.start() - position, False))
        runs.append((1, True))
        position = match.end()
    if position < len(piece):
        runs.append((len(piece) - position, False))
    return runs


def elision_length(piece: str, lang: str) -> int:
    """The length of the elided word (apostrophe included) that starts `piece` in `lang`, or 0."""
    pattern = _ELISION_RES.get(lang)
    if pattern is None:
        return 0
    match = pattern.match(piece)
    if match is None or piece.replace("’", "'").lower() in _WRITTEN_WITH_APOSTROPHE:
        return 0
    return match.end()
