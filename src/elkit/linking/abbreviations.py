"""Abbreviation definitions in running text, after Schwartz & Hearst (2003).

``find_abbreviations`` reads the definitions a text makes with the pattern "long form (short form)", as in
"coronary heart disease (CHD)", and the less common "short form (long form)", as in "CHD (coronary heart
disease)". ``expand`` then turns a mention such as "CHD", "CHDs" or "SJS type 1A" into its long form, which is
usually a far better key for a knowledge-base lookup than the abbreviation itself.

The algorithm (A. S. Schwartz and M. A. Hearst, "A simple algorithm for identifying abbreviation definitions in
biomedical text", PSB 2003):

* every pair of matching parentheses gives a candidate: the text inside is the short form (cut at the first
  ``;`` or ``,``), the words before it hold the long form. When the text inside cannot be a short form (more than
  two words, more than ten characters), the word before the parenthesis is tried as the short form instead, with
  the text inside as its long form;
* a short form is 2 to 10 characters and at most two words, starts with a letter or digit and has a letter in it;
* the long form is looked for in the last ``min(|A| + 5, 2 * |A|)`` words before the parenthesis (``|A|`` the
  short form's length), within the sentence and the enclosing parenthesis, by walking the short form's letters
  and digits from right to left and finding each, in order, further left in the long form; the short form's first
  character must match the first character of a word (a word also starts after a hyphen), and the long form runs
  from the start of that whitespace-delimited word to the parenthesis;
* a long form shorter than its short form, or one that contains the short form itself, is rejected.

Everything is linear in the length of the text, and no input raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["expand", "find_abbreviations"]

_MIN_SHORT_LEN = 2
_MAX_SHORT_LEN = 10
_MAX_SHORT_WORDS = 2
_MAX_CONTENT_LEN = 400
"""Parenthesised text longer than this is neither a short form nor a long form: skipped at once."""
_CHARS_PER_WORD = 40
"""How far before a parenthesis the long form is looked for: this many characters per word it may have."""

_SHORT_FORM_PUNCT = frozenset("-/.'&+_: ")
"""Characters besides letters and digits that a short form may contain ("HPT-JT", "Na+/K+", "3'UTR")."""
_NOT_SHORT_FORMS = frozenset("e.g. e.g eg i.e. i.e ie etc. etc cf. cf vs. vs see ibid. ibid".split())
_QUOTES = "\"'“”‘’«»"

_CONTENT_CUT = re.compile(r"[;,](?=\s)|;|[(\[]")
"""Where the short form inside a parenthesis ends: "CHD; n = 20", "CHD, see below", "CHD [12]", "CHD (n = 3)"."""
_SENTENCE_END = re.compile(r"(?<=[a-z0-9]{2})[.!?]\s+(?=[A-Z0-9\"“(\[])")
"""A sentence boundary the long form may not cross; "St. John's wort" and "e.g. Coronary" are not cut."""
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_WORD = re.compile(r"\S+")
_WHITESPACE = re.compile(r"\s+")


def find_abbreviations(text: str) -> dict[str, str]:
    """Find the abbreviations that ``text`` defines, and their long forms.

    Recognises "long form (short form)", e.g. "coronary heart disease (CHD)", and "short form (long form)",
    e.g. "CHD (coronary heart disease)" (here the short form must have a capital letter). Candidates whose short
    form fails the Schwartz & Hearst constraints, or whose letters cannot be found in order in the words before
    the parenthesis, are skipped, so "(p < 0.05)", "(see below)" or "(Figure 2)" define nothing.

    Args:
        text: Any text; unbalanced or nested parentheses are tolerated.

    Returns:
        Each short form (whitespace normalised) mapped to its long form (whitespace normalised). When a short form
        is defined more than once, the first definition in the text wins.
    """
    found: dict[str, str] = {}
    if not isinstance(text, str) or "(" not in text:
        return found
    for open_index, close_index in _paren_pairs(text):
        pair = _definition(text, open_index, close_index)
        if pair is not None and pair[0] not in found:
            found[pair[0]] = pair[1]
    return found


def expand(mention: str, abbreviations: Mapping[str, str]) -> str | None:
    """Expand a mention that is a defined abbreviation.

    Tried in turn: the mention itself ("CHD"), the mention without a trailing plural "s" ("CHDs"), and the
    mention's first one or two words followed by more words ("SJS type 1A" gives "Schwartz-Jampel syndrome type
    1A"). Matching is case-sensitive.

    Args:
        mention: The mention text.
        abbreviations: Short form → long form, as returned by `find_abbreviations`.

    Returns:
        The long form (with the further words of the mention appended, in the third case), or None when the
        mention is not a defined abbreviation.
    """
    if not abbreviations or not isinstance(mention, str):
        return None
    words = list(_WORD.finditer(mention))
    if not words:
        return None
    whole = " ".join(match.group() for match in words)
    long_form = _lookup(whole, abbreviations)
    if long_form is not None:
        return long_form
    for n_words in range(min(_MAX_SHORT_WORDS, len(words) - 1), 0, -1):
        head = " ".join(match.group() for match in words[:n_words])
        long_form = _lookup(head, abbreviations)
        if long_form is not None:
            rest = " ".join(match.group() for match in words[n_words:])
            return f"{long_form} {rest}"
    return None


def _lookup(short_form: str, abbreviations: Mapping[str, str]) -> str | None:
    """The long form of ``short_form``, or of it without a trailing plural "s"; None when neither is defined."""
    long_form = abbreviations.get(short_form)
    if long_form is None and len(short_form) > 1 and short_form.endswith("s"):
        long_form = abbreviations.get(short_form[:-1])
    return long_form


def _paren_pairs(text: str) -> list[tuple[int, int]]:
    """The positions of matching "(" and ")" in ``text``, in the order of the opening parenthesis.

    Unmatched parentheses are ignored; nested pairs are all returned.
    """
    stack: list[int] = []
    pairs: list[tuple[int, int]] = []
    start = text.find("(")
    if start < 0:
        return pairs
    for index in range(start, len(text)):
        char = text[index]
        if char == "(":
            stack.append(index)
        elif char == ")" and stack:
            pairs.append((stack.pop(), index))
    pairs.sort()
    return pairs


def _definition(text: str, open_index: int, close_index: int) -> tuple[str, str] | None:
    """The (short form, long form) that the parenthesis at ``open_index``..``close_index`` defines, if any."""
    content = _parenthesised(text, open_index, close_index)
    if content is None:
        return None
    cut = _CONTENT_CUT.search(content)
    if cut is not None:
        content = content[: cut.start()]
    content = _normalise(content)
    if not content:
        return None
    if _is_short_form(content):
        long_form = _best_long_form(content, _long_form_window(text, open_index, _max_words(content)))
        if long_form is not None:
            return content, long_form
        return None
    # "short form (long form)": the word just before the parenthesis is the short form.
    end = open_index
    while end > 0 and text[end - 1].isspace():
        end -= 1
    if end == open_index:
        return None  # "bis(2-aminophenoxy)": a parenthesis glued to a word is no definition
    start = end
    while start > 0 and not text[start - 1].isspace() and end - start <= _MAX_SHORT_LEN + 2:
        start -= 1
    if start > 0 and not text[start - 1].isspace():
        return None  # a word too long to be a short form
    short_form = text[start:end].strip(_QUOTES)
    if not (_is_short_form(short_form) and any(char.isupper() for char in short_form)):
        return None
    long_form = _best_long_form(short_form, " ".join(content.split(" ")[-_max_words(short_form) :]))
    if long_form is not None:
        return short_form, long_form
    return None


def _parenthesised(text: str, open_index: int, close_index: int) -> str | None:
    """The text inside a pair of parentheses; None, without copying it, when it is too long to define anything."""
    if close_index - open_index - 1 > _MAX_CONTENT_LEN:
        return None
    return text[open_index + 1 : close_index]


def _normalise(value: str) -> str:
    """``value`` stripped, with each run of whitespace made a single space."""
    return _WHITESPACE.sub(" ", value).strip()


def _max_words(short_form: str) -> int:
    """How many words the long form of ``short_form`` may have: min(|A| + 5, 2 |A|)."""
    return min(len(short_form) + 5, 2 * len(short_form))


def _is_short_form(candidate: str) -> bool:
    """Whether ``candidate`` (whitespace normalised) may be a short form."""
    if not _MIN_SHORT_LEN <= len(candidate) <= _MAX_SHORT_LEN:
        return False
    if not candidate[0].isalnum() or not any(char.isalpha() for char in candidate):
        return False
    if not all(char.isalnum() or char in _SHORT_FORM_PUNCT for char in candidate):
        return False  # "p<0.05", "n=12", "5%"
    words = candidate.split(" ")
    if len(words) > _MAX_SHORT_WORDS:
        return False
    if len(words) > 1 and candidate.islower():
        return False  # "see below", "in press": an abbreviation of two words has a capital or a digit
    return candidate.lower() not in _NOT_SHORT_FORMS


def _long_form_window(text: str, open_index: int, max_words: int) -> str:
    """The words before ``open_index`` that may hold a long form, whitespace normalised.

    The last ``max_words`` words, not crossing a blank line, a sentence boundary or an unmatched "(" (the
    parenthesis that encloses this one).
    """
    region = text[max(0, open_index - max_words * _CHARS_PER_WORD) : open_index]
    if "\n" in region:
        region = _BLANK_LINE.split(region)[-1]
    window = " ".join(region.split()[-max_words:])
    if "(" in window:
        depth = 0
        for index in range(len(window) - 1, -1, -1):
            char = window[index]
            if char == ")":
                depth += 1
            elif char == "(":
                if depth == 0:
                    window = window[index + 1 :]
                    break
                depth -= 1
    last_end = None
    for match in _SENTENCE_END.finditer(window):
        last_end = match.end()
    if last_end is not None:
        window = window[last_end:]
    return window.strip()


def _best_long_form(short_form: str, window: str) -> str | None:
    """The shortest long form for ``short_form`` at the end of ``window`` (whitespace normalised), or None.

    The short form's letters and digits are found right to left, each further left than the last; its first
    character must start a word. When the long form so found would start inside a parenthesis ("(TNF-alpha)
    receptor"), the first character is looked for further left.
    """
    chars = [char.lower() for char in short_form if char.isalnum()]
    if not chars or not window:
        return None
    l_index = len(window) - 1
    for char in reversed(chars[1:]):
        while l_index >= 0 and window[l_index].lower() != char:
            l_index -= 1
        if l_index < 0:
            return None
        l_index -= 1
    first = chars[0]
    while l_index >= 0:
        if window[l_index].lower() == first and (l_index == 0 or not window[l_index - 1].isalnum()):
            long_form = window[window.rfind(" ", 0, l_index) + 1 :].strip(_QUOTES + " ,;:")
            if not long_form.startswith("(") and _balanced(long_form):
                return long_form if _acceptable(short_form, long_form) else None
        l_index -= 1
    return None


def _balanced(value: str) -> bool:
    """Whether the parentheses in ``value`` match."""
    depth = 0
    for char in value:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _acceptable(short_form: str, long_form: str) -> bool:
    """Schwartz & Hearst's last checks: the long form is longer than the short form and does not contain it."""
    if len(long_form) < len(short_form) or short_form in long_form:
        return False
    return long_form.lower() != short_form.lower()
