"""The tokenizer's rule data: what is kept whole, and what is split off or at.

Abbreviations, clitics, emoticons, affix characters, and the regular expressions for protected pieces (numbers,
URLs, e-mail addresses), units and infixes. Pure data: :mod:`elkit.tokenize.splitting` applies it to one
whitespace-free chunk. Change what is split here, how it is split there.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = [
    "ABBREVIATIONS",
    "AFFIX_CHARACTERS",
    "APOSTROPHES",
    "ATTACHED_PUNCTUATION",
    "ATTACHED_SYMBOLS",
    "CAPITALISED_ABBREVIATIONS",
    "CLITICS",
    "EAST_ASIAN_PUNCTUATION",
    "EMOJI_MODIFIERS",
    "EMOTICONS",
    "INFIX_RE",
    "LETTER",
    "LETTER_OR_DIGIT",
    "LOWER_CASE_ABBREVIATIONS",
    "PREFIX_ONLY_CHARACTERS",
    "PROTECTED_RE",
    "PROTECTED_WORDS",
    "REGIONAL_INDICATORS",
    "TITLES",
    "TOP_LEVEL_DOMAINS",
    "UNITS",
    "UNIT_SUFFIX_RE",
    "UPPER_CASE_ABBREVIATIONS",
    "URL_END",
    "ZERO_WIDTH_JOINER",
]

APOSTROPHES: Final = "'’"

# Characters split off the front or the back of a piece whatever their Unicode category.
AFFIX_CHARACTERS: Final = frozenset("\"'`´‘’‚‛“”„‟«»‹›()[]{}<>,;:!?¿¡…*&_§%–—")
# Characters split off the front only.
PREFIX_ONLY_CHARACTERS: Final = frozenset("=")
# Punctuation (category Po) that stays attached: periods have their own rules, the rest belong to
# hashtags, mentions, e-mail addresses, paths and words such as "l·l".
ATTACHED_PUNCTUATION: Final = frozenset(".#@/\\·")
# Characters that keep an emoji together with the pictograph before them.
EMOJI_MODIFIERS: Final = frozenset(
    ["\ufe0e", "\ufe0f", "\u20e3", *map(chr, range(0x1F3FB, 0x1F400)), *map(chr, range(0xE0020, 0xE0080))]
)
ZERO_WIDTH_JOINER: Final = "\u200d"
REGIONAL_INDICATORS: Final = frozenset(map(chr, range(0x1F1E6, 0x1F200)))
# Pictographic symbols (category So) that are ordinary word material.
ATTACHED_SYMBOLS: Final = frozenset("°")

TITLES: Final = (
    "Mr Mrs Ms Mx Dr Prof Rev Hon Gen Col Lt Sgt Capt Cpl Maj Adm Cmdr Gov Sen Rep Pres Supt Insp Det St Mt "
    "Ft Messrs Mme Mlle Fr Jr Sr"
).split()
CAPITALISED_ABBREVIATIONS: Final = (
    "Inc Ltd Co Corp Bros Dept Univ Assn Ave Blvd Rd Hwy Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec "
    "Mon Tue Tues Wed Thu Thur Thurs Fri Sat No Nos Fig Figs Vol Vols Ch Sec Ala Ariz Ark Calif Colo Conn Del "
    "Fla Ga Ill Ind Kan Kans Ky La Md Mass Mich Minn Miss Mo Mont Neb Nev Okla Ore Pa Tenn Tex Va Vt Wash Wis "
    "Wyo"
).split()
LOWER_CASE_ABBREVIATIONS: Final = "etc vs v cf al approx ca esp incl excl viz resp misc pp dept est".split()
UPPER_CASE_ABBREVIATIONS: Final = [
    word.upper()
    for word in (*TITLES, *"Inc Ltd Co Corp Bros Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split())
]
ABBREVIATIONS: Final = frozenset(
    word + "."
    for word in (*TITLES, *CAPITALISED_ABBREVIATIONS, *LOWER_CASE_ABBREVIATIONS, *UPPER_CASE_ABBREVIATIONS)
)

EMOTICONS: Final = frozenset(
    """
    :) :-) :)) :-)) :( :-( :(( :-(( ;) ;-) ;( ;-( :D :-D ;D :P :-P :p :-p ;P ;p :O :-O :o :-o :/ :-/ :\\ :-\\
    :| :-| :] :-] :[ :-[ :* :-* :3 :'( :'-( :') :'-) :> :-> :< :-< :S :-S :$ =) =( =D =] =[ =/ =P <3 </3 <33
    ^_^ ^^ ^.^ -_- -.- o_O O_o o.O O.o o_o O_O >_< >.< xD XD xP XP
    """.split()
)
CLITICS: Final = frozenset(
    apostrophe.join(parts)
    for apostrophe in APOSTROPHES
    for word in ("_s", "_m", "_d", "_ll", "_re", "_ve", "n_t")
    for variant in (word, word.upper())
    for parts in [variant.split("_")]
)
PROTECTED_WORDS: Final = ABBREVIATIONS | EMOTICONS | CLITICS | {"``", "''", "w/", "w/o"}

TOP_LEVEL_DOMAINS: Final = (
    "com|org|net|edu|gov|mil|int|info|biz|io|ai|app|dev|co|uk|us|ca|au|de|fr|es|it|nl|eu|ru|cn|jp|in|ch|se|no|br"
)
URL_END: Final = r"[\w/#=&~+%\-)]"
PROTECTED_RE: Final = re.compile(
    # numbers, dates, times, fractions and ranges
    r"[+\-±−]?\d+(?:[.,:/\-–]\d+)*"
    # abbreviations made of letters and periods
    r"|[^\W\d_]{1,2}(?:\.[^\W\d_]{1,2})+\."
    # URLs with a scheme or "www."
    rf"|(?i:(?:[a-z][a-z0-9+.\-]*://|www\d{{0,3}}\.)\S*{URL_END})"
    # bare domain names followed by a port or a path (a bare domain alone stays whole anyway)
    rf"|[\w\-]+(?:\.[\w\-]+)*\.(?:{TOP_LEVEL_DOMAINS})(?::\d+|(?::\d+)?[/?#]\S*{URL_END})"
    # e-mail addresses
    r"|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"
    # hashtags and mentions
    r"|[#@]\w+"
)

UNITS: Final = (
    "°C|°F|°K|km|cm|mm|µm|nm|m|mi|yd|ft|kg|mg|µg|g|lbs|lb|oz|ml|ha|mph|kph|kmh|km/h|m/s|hPa|Pa|mbar|kb|KB|MB|mb|GB|gb|"
    "TB|tb|kW|kWh|MW|GW|Hz|kHz|MHz|GHz"
)
UNIT_SUFFIX_RE: Final = re.compile(rf"(?<=\d)(?:{UNITS})\Z")

LETTER: Final = r"[^\W\d_]"
LETTER_OR_DIGIT: Final = r"[^\W_]"
# East Asian punctuation ("。", "、", "！", ...) splits wherever it is: those scripts do not use spaces.
EAST_ASIAN_PUNCTUATION: Final = "".join(
    character
    for code_point in (*range(0x3000, 0x3040), *range(0xFF00, 0xFF66))
    if unicodedata.category(character := chr(code_point)).startswith("P")
)
INFIX_RE: Final = re.compile(
    rf"[{re.escape(EAST_ASIAN_PUNCTUATION)}]"
    r"|\.{2,}|…"
    r"|-{2,}|[—―]"
    rf"|(?<={LETTER_OR_DIGIT})[-‐‑–~](?={LETTER})"
    rf"|(?<={LETTER}),(?={LETTER})"
    rf"|(?<={LETTER_OR_DIGIT})[:<>=/](?={LETTER})"
    rf"|(?<={LETTER})\.(?={LETTER})"
    r"|(?<=\d)[+*^](?=\d)"
)
