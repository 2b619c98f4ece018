import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elkit.doc.doc import Doc
from elkit.errors import ConfigError, DataError
from elkit.registry import tokenizers
from elkit.tokenize import Tokenizer, TokenizerSettings


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer()


def words(tokenizer, text, boundaries=None):
    starts, ends = tokenizer.tokenize_offsets(text, boundaries)
    return [text[start:end] for start, end in zip(starts, ends, strict=True)]


CASES = [
    # punctuation as prefixes, suffixes and infixes
    ("(Hello,", ["(", "Hello", ","]),
    ("Hello, world!", ["Hello", ",", "world", "!"]),
    ('"Why?"', ['"', "Why", "?", '"']),
    ("“Hi,” she said.", ["“", "Hi", ",", "”", "she", "said", "."]),
    ("‘quoted’", ["‘", "quoted", "’"]),
    ("[a] {b} <c>", ["[", "a", "]", "{", "b", "}", "<", "c", ">"]),
    ("¡Hola! ¿Qué?", ["¡", "Hola", "!", "¿", "Qué", "?"]),
    ("Yahoo!!!", ["Yahoo", "!", "!", "!"]),
    ("wait...what", ["wait", "...", "what"]),
    ("wait... what", ["wait", "...", "what"]),
    ("...and", ["...", "and"]),
    ("hello…", ["hello", "…"]),
    ("so…then", ["so", "…", "then"]),
    ("a--b", ["a", "--", "b"]),
    ("--hello", ["--", "hello"]),
    ("fact—at", ["fact", "—", "at"]),
    ("end.Start", ["end", ".", "Start"]),
    ("a,b", ["a", ",", "b"]),
    ("*bold*", ["*", "bold", "*"]),
    ("&amp;", ["&", "amp", ";"]),
    # contractions and clitics
    ("don't", ["do", "n't"]),
    ("Don't", ["Do", "n't"]),
    ("DON'T", ["DO", "N'T"]),
    ("can't", ["ca", "n't"]),
    ("won't", ["wo", "n't"]),
    ("isn’t", ["is", "n’t"]),
    ("I'm", ["I", "'m"]),
    ("you're", ["you", "'re"]),
    ("we've", ["we", "'ve"]),
    ("she'll", ["she", "'ll"]),
    ("he'd", ["he", "'d"]),
    ("shouldn't've", ["should", "n't", "'ve"]),
    ("John's", ["John", "'s"]),
    ("John’s", ["John", "’s"]),
    ("it's", ["it", "'s"]),
    ("U.S.'s", ["U.S.", "'s"]),
    ("1990's", ["1990", "'s"]),
    ("students'", ["students", "'"]),
    ("John 's", ["John", "'s"]),
    ("ca n't", ["ca", "n't"]),
    ("o'clock", ["o'clock"]),
    ("O'Neill", ["O'Neill"]),
    ("'90s", ["'", "90s"]),
    ("gonna", ["gonna"]),
    # abbreviations and initials
    ("U.S.", ["U.S."]),
    ("U.S.A.", ["U.S.A."]),
    ("e.g.", ["e.g."]),
    ("i.e.,", ["i.e.", ","]),
    ("Dr.", ["Dr."]),
    ("Mr. Smith", ["Mr.", "Smith"]),
    ("Mrs. Jones", ["Mrs.", "Jones"]),
    ("Apple Inc.", ["Apple", "Inc."]),
    ("10 a.m.", ["10", "a.m."]),
    ("(p.m.)", ["(", "p.m.", ")"]),
    ("Jan. 5", ["Jan.", "5"]),
    ("Ph.D.", ["Ph.D."]),
    ("J. R. R. Tolkien", ["J.", "R.", "R.", "Tolkien"]),
    ("vs.", ["vs."]),
    ("(see p. 5)", ["(", "see", "p.", "5", ")"]),
    ("Dr.Smith", ["Dr.", "Smith"]),
    ("i.e.The", ["i.e.", "The"]),
    ("etc.", ["etc."]),
    # a sentence-final period after an ordinary word is split off
    ("home.", ["home", "."]),
    ("I went home.", ["I", "went", "home", "."]),
    ("HOME.", ["HOME", "."]),
    ("the FBI.", ["the", "FBI", "."]),
    ("no.", ["no", "."]),
    ("(home).", ["(", "home", ")", "."]),
    # numbers
    ("1,000.50", ["1,000.50"]),
    ("3.14", ["3.14"]),
    ("-2", ["-2"]),
    ("+5", ["+5"]),
    ("10/20", ["10/20"]),
    ("1996-08-22", ["1996-08-22"]),
    ("12:30", ["12:30"]),
    ("50%", ["50", "%"]),
    ("$100", ["$", "100"]),
    ("$1,000.50.", ["$", "1,000.50", "."]),
    ("€5", ["€", "5"]),
    ("100$", ["100", "$"]),
    ("1.", ["1", "."]),
    ("5+", ["5", "+"]),
    ("2+2", ["2", "+", "2"]),
    ("10km", ["10", "km"]),
    ("7.5m", ["7.5", "m"]),
    ("1990s", ["1990s"]),
    ("3rd", ["3rd"]),
    # URLs, e-mail addresses, hashtags and mentions
    ("https://example.com/a?b=c", ["https://example.com/a?b=c"]),
    ("http://example.com/path/to/page.html", ["http://example.com/path/to/page.html"]),
    ("www.x.org", ["www.x.org"]),
    ("(https://x.org/a).", ["(", "https://x.org/a", ")", "."]),
    ("https://en.wikipedia.org/wiki/Foo_(bar)", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
    ("example.com/docs?id=3", ["example.com/docs?id=3"]),
    ("Visit www.x.org.", ["Visit", "www.x.org", "."]),
    ("john.doe@example.com", ["john.doe@example.com"]),
    ("<john@x.com>", ["<", "john@x.com", ">"]),
    ("mail me: press@frb.gov.", ["mail", "me", ":", "press@frb.gov", "."]),
    ("#nlp", ["#nlp"]),
    ("@user", ["@user"]),
    ("(#nlp, @user)", ["(", "#nlp", ",", "@user", ")"]),
    # emoticons and emoji
    (":)", [":)"]),
    (":-(", [":-("]),
    (";)", [";)"]),
    (":D", [":D"]),
    ("<3", ["<3"]),
    ("xD", ["xD"]),
    ("great :) thanks", ["great", ":)", "thanks"]),
    ("great😀", ["great", "😀"]),
    ("😀😀", ["😀", "😀"]),
    ("👍🏻x", ["👍🏻", "x"]),
    ("a👨‍👩‍👧b", ["a", "👨‍👩‍👧", "b"]),
    ("🇺🇸!", ["🇺🇸", "!"]),
    # hyphens and slashes
    ("well-known", ["well", "-", "known"]),
    ("beta-catenin-stabilizing", ["beta", "-", "catenin", "-", "stabilizing"]),
    ("3-year", ["3", "-", "year"]),
    ("COVID-19", ["COVID-19"]),
    ("and/or", ["and", "/", "or"]),
    ("km/h", ["km", "/", "h"]),
    ("w/o", ["w/o"]),
    # non-Latin scripts
    ("Zürich, São Paulo.", ["Zürich", ",", "São", "Paulo", "."]),
    ("Москва.", ["Москва", "."]),
    ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),
    # CJK: every character a token, so that any character boundary can be a span boundary
    ("東京都", ["東", "京", "都"]),
    ("東京に行きました。大阪も好きです！", ["東", "京", "に", "行", "き", "ま", "し", "た", "。", "大", "阪", "も",
                                         "好", "き", "で", "す", "！"]),
    ("(東京)", ["(", "東", "京", ")"]),
    ("我爱北京天安门", ["我", "爱", "北", "京", "天", "安", "门"]),
    ("Apple公司2026年", ["Apple", "公", "司", "2026", "年"]),
    ("서울특별시", ["서울특별시"]),  # Korean puts spaces between words: kept whole
    # whitespace
    ("", []),
    ("   ", []),
    ("  a  b \n\n c\t", ["a", "b", "c"]),
    ("a\u00a0b", ["a", "b"]),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[repr(text) for text, _ in CASES])
def test_rules(tokenizer, text, expected):
    assert words(tokenizer, text) == expected


def test_sentence_with_everything(tokenizer):
    text = 'Mr. Smith didn\'t say "no" -- he paid $3.50, i.e. 50% more (see https://x.org/a).'
    assert words(tokenizer, text) == [
        "Mr.", "Smith", "did", "n't", "say", '"', "no", '"', "--", "he", "paid", "$", "3.50", ",", "i.e.",
        "50", "%", "more", "(", "see", "https://x.org/a", ")", ".",
    ]  # fmt: skip


def test_offsets_are_exact(tokenizer):
    text = "  Hello,\tworld!\n"
    starts, ends = tokenizer.tokenize_offsets(text)
    assert starts == [2, 7, 9, 14]
    assert ends == [7, 8, 14, 15]


def test_cache_gives_same_result(tokenizer):
    text = "He said: don't (really) go home. He said: don't (really) go home."
    first = tokenizer.tokenize_offsets(text)
    second = tokenizer.tokenize_offsets(text)
    assert first == second
    assert words(tokenizer, text)[:10] == ["He", "said", ":", "do", "n't", "(", "really", ")", "go", "home"]


def test_call_returns_doc(tokenizer):
    doc = tokenizer("Hello, world.")
    assert isinstance(doc, Doc)
    assert doc.words == ["Hello", ",", "world", "."]
    assert doc.text == "Hello, world."


def test_pipe(tokenizer):
    texts = ["One.", "Two, three.", ""]
    docs = list(tokenizer.pipe(texts, batch_size=2))
    assert [doc.words for doc in docs] == [["One", "."], ["Two", ",", "three", "."], []]
    with pytest.raises(ConfigError):
        tokenizer.pipe(texts, batch_size=0)


def test_rejects_non_string(tokenizer):
    with pytest.raises(DataError):
        tokenizer.tokenize_offsets(b"bytes")  # type: ignore[arg-type]


# --- boundaries ------------------------------------------------------------------------------------------------


def test_boundaries_split_inside_tokens(tokenizer):
    text = "beta-catenin-stabilizing tumours."
    assert words(tokenizer, text, boundaries=[0, 12, 25, 31]) == [
        "beta", "-", "catenin", "-", "stabilizing", "tumour", "s", ".",
    ]  # fmt: skip


def test_boundaries_in_whitespace_or_on_boundaries_change_nothing(tokenizer):
    text = "Hello,  world."
    plain = tokenizer.tokenize_offsets(text)
    assert tokenizer.tokenize_offsets(text, boundaries=[0, 5, 6, 7, 8, 13, 14]) == plain


def test_boundaries_several_in_one_token(tokenizer):
    assert words(tokenizer, "abcdef", boundaries={2, 4, 3}) == ["ab", "c", "d", "ef"]


def test_boundaries_do_not_change_the_cache(tokenizer):
    text = "tumours grow"
    assert words(tokenizer, text, boundaries=[6]) == ["tumour", "s", "grow"]
    assert words(tokenizer, text) == ["tumours", "grow"]


def test_boundaries_outside_text(tokenizer):
    with pytest.raises(DataError):
        tokenizer.tokenize_offsets("abc", boundaries=[4])
    with pytest.raises(DataError):
        tokenizer.tokenize_offsets("", boundaries=[-1])
    with pytest.raises(DataError):
        tokenizer.tokenize_offsets("abc", boundaries=["1"])  # type: ignore[list-item]


def test_call_with_boundaries(tokenizer):
    doc = tokenizer("tumours grow", boundaries=[0, 6])
    assert doc.char_span(0, 6).text == "tumour"


# --- special cases and settings ----------------------------------------------------------------------------


def test_special_cases():
    tokenizer = Tokenizer(special_cases={"gonna": ["gon", "na"], "C++": ["C++"], "cannot": ["can", "not"]})
    assert words(tokenizer, "I'm gonna learn C++, cannot wait") == [
        "I", "'m", "gon", "na", "learn", "C++", ",", "can", "not", "wait",
    ]  # fmt: skip
    assert words(tokenizer, "(gonna)") == ["(", "gon", "na", ")"]


def test_special_case_overrides_rules():
    tokenizer = Tokenizer(special_cases={"well-known": ["well-known"], "home.": ["home."]})
    assert words(tokenizer, "well-known home.") == ["well-known", "home."]


@pytest.mark.parametrize(
    "special_cases",
    [
        {"gonna": ["go", "na"]},
        {"": []},
        {"a b": ["a", " ", "b"]},
        {"ab": ["a", "", "b"]},
        {"ab": "ab"},
        {"ab": [1, 2]},
    ],
)
def test_bad_special_cases(special_cases):
    with pytest.raises(ConfigError):
        Tokenizer(special_cases=special_cases)


def test_add_special_case_clears_cache():
    tokenizer = Tokenizer()
    assert words(tokenizer, "gonna") == ["gonna"]
    tokenizer.add_special_case("gonna", ["gon", "na"])
    assert words(tokenizer, "gonna") == ["gon", "na"]


def test_settings_round_trip():
    tokenizer = Tokenizer(special_cases={"gonna": ["gon", "na"]})
    data = tokenizer.to_dict()
    assert data == {"special_cases": {"gonna": ["gon", "na"]}, "lang": "en"}
    restored = tokenizers.make("elkit.Tokenizer.v1", data)
    assert words(restored, "gonna go") == ["gon", "na", "go"]
    assert tokenizers.make("elkit.Tokenizer.v1", {}).to_dict() == {"special_cases": {}, "lang": "en"}
    assert tokenizers.settings_model("elkit.Tokenizer.v1") is TokenizerSettings
    assert Tokenizer(TokenizerSettings(special_cases={"gonna": ["gon", "na"]})).to_dict() == data
    with pytest.raises(ConfigError, match="prefixes"):
        tokenizers.make("elkit.Tokenizer.v1", {"prefixes": []})
    with pytest.raises(ConfigError, match="special_cases"):
        tokenizers.make("elkit.Tokenizer.v1", {"special_cases": ["gonna"]})
    with pytest.raises(ConfigError, match="not both"):
        Tokenizer(TokenizerSettings(), special_cases={})


def test_added_special_cases_are_settings():
    tokenizer = Tokenizer()
    tokenizer.add_special_case("gonna", ["gon", "na"])
    assert tokenizer.settings.special_cases == {"gonna": ["gon", "na"]}
    assert tokenizer.to_dict() == {"special_cases": {"gonna": ["gon", "na"]}, "lang": "en"}
    with pytest.raises(ConfigError, match="do not join"):
        tokenizer.add_special_case("wanna", ["wan", "n"])
    assert tokenizer.special_cases == {"gonna": ["gon", "na"]}


def test_pickle():
    tokenizer = Tokenizer(special_cases={"gonna": ["gon", "na"]})
    restored = pickle.loads(pickle.dumps(tokenizer))
    assert words(restored, "gonna") == ["gon", "na"]


# --- properties --------------------------------------------------------------------------------------------

PIECES = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(list(" \t\n\r\u00a0\u2028.,;:!?'\"()-/@#$%&*…—“”’😀👍🏻\u200d🇺。、")),
    st.sampled_from(["n't", "'s", "U.S.", "e.g.", "Dr.", "http://a.b/c", "1,000.5", ":)", "...", "ab", "10km"]),
)
TEXT = st.lists(PIECES, max_size=30).map("".join)
FAST = settings(max_examples=150, deadline=None, database=None)


def check_tokens(text, starts, ends):
    assert len(starts) == len(ends)
    previous_end = 0
    rebuilt = []
    for start, end in zip(starts, ends, strict=True):
        assert previous_end <= start < end <= len(text)
        gap = text[previous_end:start]
        assert gap == "" or gap.isspace()
        token = text[start:end]
        assert not any(character.isspace() for character in token)
        rebuilt.append(gap)
        rebuilt.append(token)
        previous_end = end
    tail = text[previous_end:]
    assert tail == "" or tail.isspace()
    rebuilt.append(tail)
    assert "".join(rebuilt) == text


@FAST
@given(text=st.text(max_size=80))
def test_any_text_rebuilds_exactly(text):
    starts, ends = Tokenizer().tokenize_offsets(text)
    check_tokens(text, starts, ends)
    Doc(text, starts, ends)  # validates


@FAST
@given(text=TEXT)
def test_tricky_text_rebuilds_exactly(text):
    tokenizer = Tokenizer()
    first = tokenizer.tokenize_offsets(text)
    check_tokens(text, *first)
    assert tokenizer.tokenize_offsets(text) == first  # cached result is the same


@FAST
@given(data=st.data(), text=TEXT)
def test_boundaries_always_respected(data, text):
    boundaries = data.draw(st.sets(st.integers(min_value=0, max_value=len(text))))
    starts, ends = Tokenizer().tokenize_offsets(text, boundaries)
    check_tokens(text, starts, ends)
    edges = set(starts) | set(ends)
    for boundary in boundaries:
        inside_whitespace = 0 < boundary < len(text) and (
            text[boundary - 1].isspace() or text[boundary].isspace()
        )
        at_text_edge = boundary in (0, len(text))
        assert boundary in edges or inside_whitespace or at_text_edge


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("fr", "Il est allé à l'Élysée.", ["Il", "est", "allé", "à", "l'", "Élysée", "."]),
        ("fr", "qu'aujourd'hui (l’État) n'y va", ["qu'", "aujourd'hui", "(", "l’", "État", ")", "n'", "y", "va"]),
        ("fr", "L'OTAN et quelqu'un", ["L'", "OTAN", "et", "quelqu'un"]),
        ("it", "dell'Italia, c'è un'altra", ["dell'", "Italia", ",", "c'", "è", "un'", "altra"]),
        ("ca", "l'Ajuntament d'Andorra", ["l'", "Ajuntament", "d'", "Andorra"]),
        ("en", "l'Élysée and don't", ["l'Élysée", "and", "do", "n't"]),
        ("fr", "don't", ["do", "n't"]),
        ("de", "Donaudampfschifffahrtsgesellschaft in Köln", ["Donaudampfschifffahrtsgesellschaft", "in", "Köln"]),
        ("zh", "我爱北京天安门。", ["我", "爱", "北", "京", "天", "安", "门", "。"]),
        ("ja", "東京タワー", ["東", "京", "タ", "ワ", "ー"]),
    ],
)
def test_language_rules(lang, text, expected):
    assert words(Tokenizer(lang=lang), text) == expected


def test_pipeline_lang_picks_the_rules():
    from elkit.pipeline import Pipeline

    nlp = Pipeline.from_config({"nlp": {"lang": "fr", "pipeline": []}})
    assert nlp("l'Élysée").words == ["l'", "Élysée"]
    assert Pipeline.from_config(nlp.config.to_dict())("l'Élysée").words == ["l'", "Élysée"]
    with pytest.raises(ConfigError, match="lang"):
        Tokenizer(lang="French!")


@FAST
@given(text=TEXT, lang=st.sampled_from(["en", "it", "fr", "zh"]))
def test_single_spaced_text_splits_like_any_other(text, lang):
    # One space between chunks takes the chained-steps path; the same chunks with a double space take the
    # per-chunk path. Both must give the same tokens.
    chunks = text.split()
    single = " ".join(chunks)
    double = "  ".join(chunks) + " "
    tokenizer = Tokenizer(lang=lang)
    single_words = words(tokenizer, single)
    check_tokens(single, *tokenizer.tokenize_offsets(single))
    assert single_words == words(Tokenizer(lang=lang), double)
    assert single_words == words(tokenizer, single)  # from the caches


def test_tokenized_documents_are_freed_without_the_garbage_collector():
    import gc

    tokenizer = Tokenizer(lang="it")
    text = "L'ISTAT ha comunicato che nell'ultimo trimestre il PIL dell'Italia è cresciuto."
    gc.collect()
    gc.disable()
    try:
        for _ in range(50):
            doc = tokenizer(text)
            assert doc.words[0] == "L'"
        del doc
        assert gc.collect() == 0  # nothing left for the cycle collector: reference counting freed every Doc
    finally:
        gc.enable()
    doc = tokenizer(text)
    doc.spans["mentions"] = [doc[1:2]]
    assert doc.spans["mentions"][0].text == "ISTAT"
    assert pickle.loads(pickle.dumps(doc)).spans["mentions"][0].text == "ISTAT"


def test_step_cache_is_bounded(monkeypatch):
    from elkit.tokenize import tokenizer as module

    monkeypatch.setattr(module, "_CACHE_LIMIT", 5)
    tokenizer = Tokenizer()
    text = " ".join(f"word{number}." for number in range(12))
    assert words(tokenizer, text)[:4] == ["word0", ".", "word1", "."]
    assert len(tokenizer._steps) <= 5
    assert words(tokenizer, text) == words(Tokenizer(), text)
