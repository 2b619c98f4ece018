"""The entity ruler: phrase and token patterns, selection, patterns.jsonl errors, serialization, speed."""

import builtins
import json
import pickle
import random
from pathlib import Path

import pytest

from elkit.doc import Doc
from elkit.errors import ConfigError, DataError, FormatError
from elkit.ner.patterns import read_patterns
from elkit.ner.ruler import EntityRuler, pattern_id
from elkit.pipeline import Pipeline
from elkit.tokenize import Sentencizer, Tokenizer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NLP = Pipeline()


def make_doc(text: str) -> Doc:
    return NLP.make_doc(text)


def found(patterns, text, **settings):
    ruler = EntityRuler(**settings)
    ruler.add_patterns(patterns)
    return [(span.text, span.label) for span in ruler(make_doc(text)).ents]


def texts(patterns, text, **settings):
    return [span_text for span_text, _ in found(patterns, text, **settings)]


def token_pattern(*specs, label="X"):
    return [{"label": label, "pattern": list(specs)}]


# --- phrase patterns ------------------------------------------------------------------------------------------


def test_phrase_patterns_match_token_by_token():
    patterns = [
        {"label": "ORG", "pattern": "Apple Inc."},
        {"label": "LOC", "pattern": "Paris, Texas"},
        {"label": "LOC", "pattern": "U.S."},
    ]
    text = "Apple  Inc. left Paris,\nTexas for the U.S. today."
    assert found(patterns, text) == [("Apple  Inc.", "ORG"), ("Paris,\nTexas", "LOC"), ("U.S.", "LOC")]


def test_phrase_patterns_compare_orth_or_lower():
    patterns = [{"label": "ORG", "pattern": "Apple"}]
    assert texts(patterns, "apple and Apple and APPLE") == ["Apple"]
    assert texts(patterns, "apple and Apple and APPLE", phrase_matcher_attr="LOWER") == ["apple", "Apple", "APPLE"]


def test_phrases_are_tokenized_on_their_own():
    # "inc." is split, "Inc." and "INC." are kept whole: a phrase matches text that tokenizes like it
    patterns = [{"label": "ORG", "pattern": "apple inc."}]
    assert texts(patterns, "apple inc. and Apple Inc. and APPLE INC.", phrase_matcher_attr="LOWER") == ["apple inc."]
    patterns = [{"label": "ORG", "pattern": "Apple Inc."}]
    assert texts(patterns, "apple inc. and Apple Inc. and APPLE INC.", phrase_matcher_attr="LOWER") == [
        "Apple Inc.",
        "APPLE INC.",
    ]


def test_path_settings_are_kept_as_strings(tmp_path):
    ruler = EntityRuler(patterns_path=tmp_path / "patterns.jsonl")
    assert ruler.config["patterns_path"] == str(tmp_path / "patterns.jsonl")


def test_phrase_does_not_match_part_of_a_token():
    assert texts([{"label": "ORG", "pattern": "Apple"}], "Applebee and Apples") == []


def test_phrase_at_the_end_of_the_document_and_longest_phrase():
    patterns = [{"label": "LOC", "pattern": "New York"}, {"label": "LOC", "pattern": "New York City"}]
    assert texts(patterns, "I love New York City") == ["New York City"]
    assert texts(patterns, "I love New York") == ["New York"]


# --- token patterns: attributes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "text", "expected"),
    [
        ({"ORTH": "Apple"}, "Apple apple", ["Apple"]),
        ({"TEXT": "apple"}, "Apple apple", ["apple"]),
        ({"LOWER": "apple"}, "Apple apple APPLE", ["Apple", "apple", "APPLE"]),
        ({"NORM": "abc"}, "ＡＢＣ abd", ["ＡＢＣ"]),
        ({"SHAPE": "dd.dd"}, "12.50 1.5 ab", ["12.50"]),
        ({"PREFIX": "#"}, "#tag plain", ["#tag"]),
        ({"SUFFIX": "ing"}, "Turing sing in", ["Turing", "sing"]),
        ({"LENGTH": 2}, "a an the", ["an"]),
        ({"IS_ALPHA": True}, "abc 12 a1", ["abc"]),
        ({"IS_ALPHA": False}, "abc 12 a1", ["12", "a1"]),
        ({"IS_DIGIT": True}, "abc 12 a1", ["12"]),
        ({"IS_UPPER": True}, "NASA Nasa nasa", ["NASA"]),
        ({"IS_LOWER": True}, "NASA Nasa nasa", ["nasa"]),
        ({"IS_TITLE": True}, "NASA Nasa nasa", ["Nasa"]),
        ({"IS_PUNCT": True}, "Hi , there !", [",", "!"]),
        ({"IS_SPACE": True}, "no space tokens", []),
        ({"IS_SPACE": False}, "two words", ["two", "words"]),
        ({"LIKE_NUM": True}, "seven 1,000 3/4 x", ["seven", "1,000", "3/4"]),
        ({"lower": "apple"}, "Apple", ["Apple"]),
    ],
)
def test_token_attributes(spec, text, expected):
    assert texts(token_pattern(spec), text) == expected


def test_sentence_start():
    doc = make_doc("Hello there. General Kenobi said hi.")
    ruler = EntityRuler()
    ruler.add_patterns(token_pattern({"SENT_START": True, "IS_TITLE": True}))
    assert [span.text for span in ruler(doc.copy()).ents] == ["Hello"]  # no sentences: only the first token
    Sentencizer()(doc)
    assert [span.text for span in ruler(doc).ents] == ["Hello", "General"]
    not_start = EntityRuler()
    not_start.add_patterns(token_pattern({"SENT_START": False, "IS_TITLE": True}))
    assert [span.text for span in not_start(make_doc("Hello there General Kenobi")).ents] == ["General", "Kenobi"]


def test_several_attributes_must_all_hold():
    assert texts(token_pattern({"IS_TITLE": True, "LENGTH": 5}), "Paris London Rome paris") == ["Paris"]


def test_empty_dict_matches_any_token():
    assert texts(token_pattern({"LOWER": "the"}, {}), "the cat and the .") == ["the cat", "the ."]


# --- token patterns: predicates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "text", "expected"),
    [
        ({"LOWER": {"IN": ["paris", "rome"]}}, "Paris London rome", ["Paris", "rome"]),
        ({"LOWER": {"NOT_IN": ["paris", "rome"]}, "IS_TITLE": True}, "Paris London rome", ["London"]),
        ({"TEXT": {"REGEX": "ing"}}, "Turing ingot bin", ["Turing", "ingot"]),
        ({"TEXT": {"REGEX": "^[A-Z]{2,}$"}}, "NASA Nasa EU", ["NASA", "EU"]),
        ({"LENGTH": {"IN": [1, 3]}}, "a to the word", ["a", "the"]),
        ({"LENGTH": {"NOT_IN": [1, 3]}}, "a to the word", ["to", "word"]),
        ({"IS_DIGIT": {"IN": [True]}}, "a 1", ["1"]),
        ({"LOWER": {"REGEX": "^p", "NOT_IN": ["pear"]}}, "Plum pear peach apple", ["Plum", "peach"]),
    ],
)
def test_predicates(spec, text, expected):
    assert texts(token_pattern(spec), text) == expected


@pytest.mark.parametrize(
    ("comparison", "expected"),
    [
        ({"==": 3}, ["the"]),
        ({"!=": 3}, ["a", "to", "word"]),
        ({">=": 3}, ["the", "word"]),
        ({"<=": 2}, ["a", "to"]),
        ({">": 3}, ["word"]),
        ({"<": 2}, ["a"]),
        ({">": 1, "<": 4}, ["to", "the"]),
    ],
)
def test_length_comparisons(comparison, expected):
    assert texts(token_pattern({"LENGTH": comparison}), "a to the word") == expected


# --- token patterns: operators ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("specs", "text", "expected"),
    [
        # ? : optional
        ([{"LOWER": "new"}, {"LOWER": "york"}, {"LOWER": "city", "OP": "?"}], "New York City", ["New York City"]),
        ([{"LOWER": "new"}, {"LOWER": "york"}, {"LOWER": "city", "OP": "?"}], "New York state", ["New York"]),
        # * : zero or more, the longest match wins
        ([{"LOWER": "very", "OP": "*"}, {"LOWER": "good"}], "very very good", ["very very good"]),
        ([{"LOWER": "very", "OP": "*"}, {"LOWER": "good"}], "so good", ["good"]),
        # + : one or more
        ([{"IS_TITLE": True, "OP": "+"}], "we saw New York City Hall today", ["New York City Hall"]),
        ([{"LOWER": "ha", "OP": "+"}], "ha ha ha !", ["ha ha ha"]),
        # ! : one token that does not pass the tests
        ([{"LOWER": "not", "OP": "!"}, {"LOWER": "bad"}], "not bad , very bad", ["very bad"]),
        # {n}, {n,m}, {n,}, {,m}
        ([{"IS_DIGIT": True, "OP": "{3}"}], "1 2 3 4", ["1 2 3"]),
        ([{"IS_DIGIT": True, "OP": "{2,3}"}], "1 2 3 4 5 x 6 x 7 8", ["1 2 3", "4 5", "7 8"]),
        ([{"IS_DIGIT": True, "OP": "{2,}"}], "1 2 3 4 5 x 6", ["1 2 3 4 5"]),
        ([{"LOWER": "a"}, {"IS_DIGIT": True, "OP": "{,2}"}], "a 1 2 3 a x", ["a 1 2", "a"]),
        ([{"OP": "1", "LOWER": "a"}], "a b", ["a"]),
    ],
)
def test_operators(specs, text, expected):
    assert texts(token_pattern(*specs), text) == expected


def test_pattern_that_matches_nothing_gives_no_empty_spans():
    assert texts(token_pattern({"LOWER": "zzz", "OP": "?"}), "a b c") == []
    assert texts(token_pattern({"LOWER": "zzz", "OP": "*"}, {"LOWER": "yyy", "OP": "?"}), "a b c") == []


def test_greedy_match_falls_back_to_a_shorter_one_when_blocked():
    doc = make_doc("We saw New York City yesterday")
    doc.ents = [doc.span(4, 5, "LOC")]  # "City"
    ruler = EntityRuler()
    ruler.add_patterns(token_pattern({"IS_TITLE": True, "OP": "+"}))
    assert [(span.text, span.label) for span in ruler(doc).ents] == [("We", "X"), ("New York", "X"), ("City", "LOC")]


# --- selection --------------------------------------------------------------------------------------------------


def test_longest_match_wins_then_earlier_start_then_first_pattern():
    patterns = [
        {"label": "A", "pattern": "York"},
        {"label": "B", "pattern": "New York"},
        {"label": "C", "pattern": "York City"},
        {"label": "D", "pattern": [{"LOWER": "new"}, {"LOWER": "york"}]},
    ]
    # "New York" and "York City" overlap and have the same length: the earlier one wins; B was added before D
    assert found(patterns, "New York City") == [("New York", "B")]
    assert found(patterns, "in York") == [("York", "A")]


def test_phrase_and_token_patterns_compete_on_length():
    patterns = [
        {"label": "ORG", "pattern": "Apple"},
        {"label": "ORG_FULL", "pattern": [{"ORTH": "Apple"}, {"ORTH": {"IN": ["Inc.", "Corp."]}}]},
    ]
    assert found(patterns, "Apple Inc. and Apple") == [("Apple Inc.", "ORG_FULL"), ("Apple", "ORG")]


def test_existing_entities_win_without_overwrite():
    doc = make_doc("Paris Hilton visited Paris")
    doc.ents = [doc.span(0, 1, "LOC")]
    ruler = EntityRuler()
    ruler.add_patterns([{"label": "PER", "pattern": "Paris Hilton"}, {"label": "GPE", "pattern": "Paris"}])
    assert [(span.text, span.label) for span in ruler(doc).ents] == [("Paris", "LOC"), ("Paris", "GPE")]
    assert [span.start for span in doc.ents] == [0, 3]


def test_overwrite_replaces_overlapping_entities_only():
    doc = make_doc("Paris Hilton visited Rome")
    doc.ents = [doc.span(0, 1, "LOC"), doc.span(3, 4, "LOC")]
    ruler = EntityRuler(overwrite_ents=True)
    ruler.add_patterns([{"label": "PER", "pattern": "Paris Hilton"}])
    assert [(span.text, span.label) for span in ruler(doc).ents] == [("Paris Hilton", "PER"), ("Rome", "LOC")]


def test_running_twice_changes_nothing():
    ruler = EntityRuler()
    ruler.add_patterns([{"label": "LOC", "pattern": "Rome"}])
    doc = ruler(make_doc("Rome and Rome"))
    first = list(doc.ents)
    assert ruler(doc).ents == tuple(first)


def test_spans_are_scoreless_and_carry_their_source_and_pattern_id():
    ruler = EntityRuler()
    ruler.add_patterns([{"label": "ORG", "pattern": "Apple", "id": "Q312"}, {"label": "LOC", "pattern": "Rome"}])
    apple, rome = ruler(make_doc("Apple in Rome")).ents
    assert apple.score is None and apple.kb_id == ""
    assert dict(apple.attrs) == {"source": "pattern", "pattern_id": "Q312"}
    assert dict(rome.attrs) == {"source": "pattern"}
    assert pattern_id(apple) == "Q312" and pattern_id(rome) is None
    assert apple.to_dict()["pattern_id"] == "Q312"
    assert ruler.ids == ("Q312",) and ruler.labels == ("LOC", "ORG") and "ORG" in ruler and len(ruler) == 2


def test_remove_by_id_and_clear():
    ruler = EntityRuler()
    ruler.add_patterns([{"label": "ORG", "pattern": "Apple", "id": "Q312"}, {"label": "LOC", "pattern": "Rome"}])
    ruler.remove("Q312")
    assert [span.text for span in ruler(make_doc("Apple in Rome")).ents] == ["Rome"]
    with pytest.raises(DataError, match="no pattern has the id 'Q312'"):
        ruler.remove("Q312")
    ruler.clear()
    assert len(ruler) == 0 and ruler(make_doc("Apple in Rome")).ents == ()


def test_empty_document_and_no_patterns():
    ruler = EntityRuler()
    assert ruler(make_doc("")).ents == ()
    assert ruler(make_doc("Nothing here")).ents == ()
    ruler.add_patterns([{"label": "LOC", "pattern": "Rome"}])
    assert ruler(make_doc("")).ents == ()


# --- span group mode --------------------------------------------------------------------------------------------


def test_spans_key_keeps_overlaps_and_leaves_ents_alone():
    patterns = [
        {"label": "LOC", "pattern": "New York"},
        {"label": "LOC", "pattern": "New York City"},
        {"label": "ORG", "pattern": "York City", "id": "yc"},
        {"label": "TITLE", "pattern": [{"IS_TITLE": True, "OP": "+"}]},
    ]
    doc = make_doc("We love New York City")
    doc.ents = [doc.span(0, 1, "PRON")]
    ruler = EntityRuler(spans_key="ruler")
    ruler.add_patterns(patterns)
    ruler(doc)
    assert [(span.text, span.label) for span in doc.spans["ruler"]] == [
        ("We", "TITLE"),
        ("New York", "LOC"),
        ("New York City", "LOC"),
        ("New York City", "TITLE"),  # the + pattern gives its longest match only
        ("York City", "ORG"),
    ]
    assert pattern_id(doc.spans["ruler"][-1]) == "yc"
    assert [span.label for span in doc.ents] == ["PRON"]


def test_spans_key_adds_to_the_group_or_replaces_it():
    doc = make_doc("Rome and Paris")
    doc.spans["found"] = [doc.span(0, 1, "CITY")]
    adding = EntityRuler(spans_key="found")
    adding.add_patterns([{"label": "LOC", "pattern": "Paris"}, {"label": "CITY", "pattern": "Rome"}])
    adding(doc)
    adding(doc)
    assert [(span.text, span.label) for span in doc.spans["found"]] == [("Rome", "CITY"), ("Paris", "LOC")]
    replacing = EntityRuler(spans_key="found", overwrite_ents=True)
    replacing.add_patterns([{"label": "LOC", "pattern": "Paris"}])
    replacing(doc)
    assert [(span.text, span.label) for span in doc.spans["found"]] == [("Paris", "LOC")]


def test_spans_key_group_is_set_even_without_matches():
    doc = EntityRuler(spans_key="ruler")(make_doc("nothing"))
    assert doc.spans["ruler"] == []


# --- errors -------------------------------------------------------------------------------------------------------


GOOD_LINE = '{"label": "ORG", "pattern": "Apple"}'


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('{"label": "ORG", "pattern": "Apple"', None, "not valid JSON"),
        ('["ORG", "Apple"]', None, "must be a JSON object"),
        ('{"pattern": "Apple"}', "label", "missing 'label'"),
        ('{"label": "", "pattern": "Apple"}', "label", "non-empty string"),
        ('{"label": 3, "pattern": "Apple"}', "label", "non-empty string"),
        ('{"label": "ORG"}', "pattern", "missing 'pattern'"),
        ('{"label": "ORG", "pattern": "  "}', "pattern", "empty phrase pattern"),
        ('{"label": "ORG", "pattern": []}', "pattern", "empty token pattern"),
        ('{"label": "ORG", "pattern": 42}', "pattern", "must be a string"),
        ('{"label": "ORG", "pattern": ["apple"]}', "pattern[0]", "must be a JSON object"),
        ('{"label": "ORG", "pattern": [{"LOWER": "a"}, {"LEMA": "b"}]}', "pattern[1].LEMA", "unknown token attribute"),
        ('{"label": "ORG", "pattern": [{"POS": "NOUN"}]}', "pattern[0].POS", "needs a statistical model"),
        ('{"label": "ORG", "pattern": [{"LOWER": "a", "OP": "++"}]}', "pattern[0].OP", "bad OP"),
        ('{"label": "ORG", "pattern": [{"LOWER": "a", "OP": "{3,1}"}]}', "pattern[0].OP", "bad OP"),
        ('{"label": "ORG", "pattern": [{"LOWER": "a", "OP": "{,}"}]}', "pattern[0].OP", "bad OP"),
        ('{"label": "ORG", "pattern": [{"LOWER": {"REGEX": "("}}]}', "pattern[0].LOWER.REGEX", "bad regular expr"),
        ('{"label": "ORG", "pattern": [{"LOWER": 3}]}', "pattern[0].LOWER", "compares with strings"),
        ('{"label": "ORG", "pattern": [{"IS_TITLE": "yes"}]}', "pattern[0].IS_TITLE", "true or false"),
        ('{"label": "ORG", "pattern": [{"LENGTH": "3"}]}', "pattern[0].LENGTH", "non-negative integers"),
        ('{"label": "ORG", "pattern": [{"LENGTH": {"REGEX": "3"}}]}', "pattern[0].LENGTH.REGEX", "string attributes"),
        ('{"label": "ORG", "pattern": [{"LOWER": {">": 3}}]}', "pattern[0].LOWER.>", "LENGTH only"),
        ('{"label": "ORG", "pattern": [{"LOWER": {"FUZZY": "a"}}]}', "pattern[0].LOWER.FUZZY", "unknown predicate"),
        ('{"label": "ORG", "pattern": [{"LOWER": {"IN": "abc"}}]}', "pattern[0].LOWER.IN", "takes a list"),
        ('{"label": "ORG", "pattern": [{"LOWER": {"IN": ["a", 1]}}]}', "pattern[0].LOWER.IN[1]", "compares with"),
        ('{"label": "ORG", "pattern": [{"LOWER": {}}]}', "pattern[0].LOWER", "empty predicate dict"),
        ('{"label": "ORG", "pattern": "Apple", "id": 7}', "id", "id must be a non-empty string"),
        ('{"label": "ORG", "pattern": "Apple", "lable": "X"}', "lable", "unknown key"),
    ],
)
def test_bad_pattern_lines_name_file_line_and_field(tmp_path, line, field, message):
    path = tmp_path / "patterns.jsonl"
    path.write_text(f"{GOOD_LINE}\n\n{line}\n{GOOD_LINE}\n", encoding="utf-8")
    with pytest.raises(FormatError, match=message) as caught:
        read_patterns(path)
    assert caught.value.path == str(path) and caught.value.line == 3 and caught.value.field == field
    assert "patterns.jsonl:3" in str(caught.value)


def test_validate_false_ignores_extra_keys_but_checks_the_rest(tmp_path):
    path = tmp_path / "patterns.jsonl"
    path.write_text('{"label": "ORG", "pattern": "Apple", "meta": {"source": "seed"}}\n', encoding="utf-8")
    assert read_patterns(path, validate=False) == [{"label": "ORG", "pattern": "Apple"}]
    ruler = EntityRuler(validate=False).from_jsonl(path)
    assert ruler.patterns == [{"label": "ORG", "pattern": "Apple"}]
    path.write_text('{"label": "ORG", "pattern": [{"LEMMA": "x"}], "meta": 1}\n', encoding="utf-8")
    with pytest.raises(FormatError, match="LEMMA"):
        EntityRuler(validate=False).from_jsonl(path)


def test_non_utf8_line_and_missing_file(tmp_path):
    path = tmp_path / "patterns.jsonl"
    path.write_bytes(GOOD_LINE.encode() + b'\n{"label": "ORG", "pattern": "Caf\xe9"}\n')
    with pytest.raises(FormatError, match="not valid UTF-8") as caught:
        read_patterns(path)
    assert caught.value.line == 2
    with pytest.raises(FormatError, match="cannot open"):
        read_patterns(tmp_path / "missing.jsonl")


def test_a_bad_file_adds_nothing(tmp_path):
    path = tmp_path / "patterns.jsonl"
    path.write_text(f'{GOOD_LINE}\n{{"label": "ORG"}}\n', encoding="utf-8")
    ruler = EntityRuler()
    with pytest.raises(FormatError):
        ruler.from_jsonl(path)
    assert len(ruler) == 0


def test_add_patterns_errors_name_the_pattern_and_add_nothing():
    ruler = EntityRuler()
    with pytest.raises(FormatError, match=r"\[patterns\[1\]\.pattern\[0\]\.OP\]: bad OP") as caught:
        ruler.add_patterns([{"label": "A", "pattern": "a"}, {"label": "B", "pattern": [{"OP": "%"}]}])
    assert caught.value.field == "patterns[1].pattern[0].OP"
    assert len(ruler) == 0
    with pytest.raises(FormatError, match=r"\[patterns\[0\]\]: a pattern must be a JSON object"):
        ruler.add_patterns(["Apple"])
    with pytest.raises(FormatError, match="not a single pattern"):
        ruler.add_patterns({"label": "A", "pattern": "a"})


def test_bad_settings():
    with pytest.raises(ConfigError, match="phrase_matcher_attr"):
        EntityRuler(phrase_matcher_attr="NORM")
    with pytest.raises(ConfigError, match="spans_key"):
        EntityRuler(spans_key="")
    with pytest.raises(ConfigError, match="overwrite_ents"):
        EntityRuler(overwrite_ents="yes")
    with pytest.raises(ConfigError, match="batch_size"):
        EntityRuler().pipe([], batch_size=0)


# --- loading ------------------------------------------------------------------------------------------------------


def test_patterns_path_is_read_lazily(tmp_path, monkeypatch):
    path = tmp_path / "patterns.jsonl"
    path.write_text('{"label": "LOC", "pattern": "Rome", "id": "Q220"}\n', encoding="utf-8")

    def no_open(*args, **kwargs):
        raise AssertionError("the constructor must not open files")

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "open", no_open)
        ruler = EntityRuler(patterns_path=str(path))
        missing = EntityRuler(patterns_path=str(tmp_path / "missing.jsonl"))
    assert ruler.config == {
        "patterns_path": str(path),
        "phrase_matcher_attr": "ORTH",
        "overwrite_ents": False,
        "validate": True,
    }
    assert [pattern_id(span) for span in ruler(make_doc("Rome")).ents] == ["Q220"]
    with pytest.raises(FormatError, match="missing.jsonl: cannot open"):
        missing(make_doc("Rome"))
    initialized = EntityRuler(patterns_path=str(path))
    initialized.initialize(patterns=[{"label": "LOC", "pattern": "Paris"}])
    assert initialized.patterns == [
        {"label": "LOC", "pattern": "Rome", "id": "Q220"},
        {"label": "LOC", "pattern": "Paris"},
    ]
    initialized.initialize()
    assert len(initialized) == 2  # the file is read once


def test_config_leaves_out_unset_settings():
    assert EntityRuler().config == {"phrase_matcher_attr": "ORTH", "overwrite_ents": False, "validate": True}
    assert EntityRuler("r", spans_key="sc", phrase_matcher_attr="LOWER").config["spans_key"] == "sc"


def test_example_patterns_file():
    ruler = EntityRuler(patterns_path=str(EXAMPLES / "patterns.jsonl"))
    results = {}
    for line in (EXAMPLES / "texts.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        doc = ruler(make_doc(record["text"]))
        results[record["meta"]["id"]] = [(span.text, span.label, pattern_id(span)) for span in doc.ents]
    assert results["ex-1"][0] == ("Ada Lovelace", "PER", "Q7259")
    assert ("Jan. 2027", "DATE", None) in results["ex-3"]
    assert results["ex-6"] == [
        ("Paris Hilton", "PER", "Q47899"),
        ("Paris, Texas", "LOC", "Q830149"),
        ("Paris, France", "LOC", "Q90"),
    ]


# --- serialization ------------------------------------------------------------------------------------------------

PATTERNS = [
    {"label": "ORG", "pattern": "Apple Inc.", "id": "Q312"},
    {"label": "LOC", "pattern": [{"LOWER": "new"}, {"IS_TITLE": True, "OP": "+"}]},
    {"label": "DATE", "pattern": [{"TEXT": {"REGEX": "^\\d{4}$"}, "LENGTH": {">=": 4}}]},
]
TEXT = "Apple Inc. opened in New York City in 2027, then APPLE INC. left."


def snapshot(doc):
    groups = {name: [span.to_dict() for span in spans] for name, spans in doc.spans.items()}
    return [span.to_dict() for span in doc.ents], groups


@pytest.fixture
def ruler():
    component = EntityRuler("mine", phrase_matcher_attr="LOWER", spans_key="found", overwrite_ents=True)
    component.add_patterns(PATTERNS)
    return component


def test_bytes_round_trip(ruler):
    rebuilt = EntityRuler("mine").from_bytes(ruler.to_bytes())
    assert rebuilt.config == ruler.config and rebuilt.patterns == PATTERNS
    assert snapshot(rebuilt(make_doc(TEXT))) == snapshot(ruler(make_doc(TEXT)))
    assert len(snapshot(ruler(make_doc(TEXT)))[1]["found"]) == 4
    with pytest.raises(ConfigError, match="not valid JSON"):
        EntityRuler().from_bytes(b"{")
    with pytest.raises(ConfigError, match="settings and patterns"):
        EntityRuler().from_bytes(b"{}")


def test_disk_round_trip(ruler, tmp_path):
    ruler.to_disk(tmp_path / "ruler")
    lines = (tmp_path / "ruler" / "patterns.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == PATTERNS
    assert json.loads((tmp_path / "ruler" / "config.json").read_text(encoding="utf-8"))["spans_key"] == "found"
    loaded = EntityRuler("mine").from_disk(tmp_path / "ruler")
    assert loaded.config == ruler.config and loaded.patterns == PATTERNS
    assert snapshot(loaded(make_doc(TEXT))) == snapshot(ruler(make_doc(TEXT)))
    with pytest.raises(ConfigError, match="cannot read"):
        EntityRuler().from_disk(tmp_path / "nowhere")


def test_from_disk_names_the_bad_line(ruler, tmp_path):
    ruler.to_disk(tmp_path / "ruler")
    path = tmp_path / "ruler" / "patterns.jsonl"
    path.write_text(path.read_text(encoding="utf-8") + '{"label": "X", "pattern": [{"OP": "?!"}]}\n')
    with pytest.raises(FormatError, match="patterns.jsonl:4 \\[pattern\\[0\\].OP\\]"):
        EntityRuler().from_disk(tmp_path / "ruler")


def test_pickle_round_trip(ruler, tmp_path):
    restored = pickle.loads(pickle.dumps(ruler))
    assert restored.name == "mine" and restored.config == ruler.config
    assert snapshot(restored(make_doc(TEXT))) == snapshot(ruler(make_doc(TEXT)))
    path = tmp_path / "patterns.jsonl"
    path.write_text('{"label": "LOC", "pattern": "Rome"}\n', encoding="utf-8")
    lazy = pickle.loads(pickle.dumps(EntityRuler(patterns_path=str(path))))
    path.unlink()  # the patterns travelled with the pickle
    assert [span.text for span in lazy(make_doc("Rome")).ents] == ["Rome"]


# --- in a pipeline ------------------------------------------------------------------------------------------------

FACTORY = "elkit.EntityRuler.v1"


@pytest.fixture
def pipeline(tmp_path):
    path = tmp_path / "patterns.jsonl"
    path.write_text("".join(json.dumps(pattern) + "\n" for pattern in PATTERNS), encoding="utf-8")
    nlp = Pipeline()
    nlp.add_pipe("elkit.Sentencizer.v1")
    nlp.add_pipe(FACTORY, name="ruler", config={"patterns_path": str(path), "phrase_matcher_attr": "LOWER"})
    return nlp


PIPELINE_TEXTS = [TEXT, "", "No entities here.", "New Delhi and New York. In 1999 apple Inc. grew."]


def test_pipeline_call_and_pipe_agree(pipeline):
    by_call = [snapshot(pipeline(text)) for text in PIPELINE_TEXTS]
    assert by_call[0][0][0]["label"] == "ORG"
    for batch_size in (1, 2, 100):
        assert [snapshot(doc) for doc in pipeline.pipe(PIPELINE_TEXTS, batch_size=batch_size)] == by_call


def test_pipeline_disk_config_and_pickle_round_trips(pipeline, tmp_path):
    expected = [snapshot(pipeline(text)) for text in PIPELINE_TEXTS]
    pipeline.to_disk(tmp_path / "model")
    (tmp_path / "patterns.jsonl").unlink()  # the saved component carries its patterns
    loaded = Pipeline.from_disk(tmp_path / "model")
    assert loaded.config == pipeline.config
    assert [snapshot(loaded(text)) for text in PIPELINE_TEXTS] == expected
    restored = pickle.loads(pickle.dumps(pipeline))
    assert [snapshot(restored(text)) for text in PIPELINE_TEXTS] == expected


def test_phrase_patterns_use_the_pipelines_tokenizer(tmp_path):
    """A special case of the pipeline's tokenizer applies to phrase patterns too (it did not: issue 16)."""
    nlp = Pipeline(Tokenizer(special_cases={"gonna": ["gon", "na"]}))
    ruler = nlp.add_pipe(FACTORY, name="ruler")
    ruler.add_patterns([{"label": "EVENT", "pattern": "gonna win"}])
    assert nlp.make_doc("we are gonna win").words == ["we", "are", "gon", "na", "win"]
    assert [span.text for span in nlp("we are gonna win").ents] == ["gonna win"]
    restored = pickle.loads(pickle.dumps(nlp))
    assert [span.text for span in restored("we are gonna win").ents] == ["gonna win"]
    nlp.to_disk(tmp_path / "model")
    loaded = Pipeline.from_disk(tmp_path / "model")
    assert [span.text for span in loaded("we are gonna win").ents] == ["gonna win"]


def test_ruler_works_on_pipeline_docs_without_registration():
    ruler = EntityRuler()
    ruler.add_patterns([{"label": "GPE", "pattern": [{"LOWER": "san"}, {"LOWER": "francisco"}]}])
    docs = list(ruler.pipe(NLP.pipe(["I left San Francisco.", "san francisco!"])))
    assert [[span.text for span in doc.ents] for doc in docs] == [["San Francisco"], ["san francisco"]]


# --- speed --------------------------------------------------------------------------------------------------------


def random_patterns(generator: random.Random, vocabulary: list[str]) -> list[dict]:
    phrases = [
        {"label": "PHRASE", "pattern": " ".join(generator.choice(vocabulary) for _ in range(generator.randint(1, 3)))}
        for _ in range(5000)
    ]
    tokens = [
        {
            "label": "TOKENS",
            "pattern": [
                {"LOWER": generator.choice(vocabulary).lower()},
                {"LENGTH": {">=": 5}, "OP": "?"},
                {"LOWER": {"IN": [generator.choice(vocabulary).lower() for _ in range(3)]}, "OP": "*"},
            ],
        }
        for _ in range(990)
    ]
    unindexed = [{"label": "ANY", "pattern": [{"TEXT": {"REGEX": f"^Qword{index}$"}}]} for index in range(10)]
    return phrases + tokens + unindexed


def test_thousands_of_patterns_cost_work_per_token_not_per_pattern():
    """The matcher's work (candidate checks) is bounded per token; patterns that cannot match there cost nothing."""
    generator = random.Random(13)
    vocabulary = [f"{generator.choice(['', 'x', 'Q'])}word{index}" for index in range(3000)]
    words = [generator.choice(vocabulary) for _ in range(10_000)]
    patterns = random_patterns(generator, vocabulary)
    ruler = EntityRuler()
    ruler.add_patterns(patterns)
    doc = ruler(Doc.from_words(words))
    assert len(doc.ents) > 1000
    attempts = ruler.matcher.attempts
    # per token: a few phrase lengths, the token patterns whose first word it is, the 10 unindexed patterns
    assert 10 * len(words) <= attempts <= 12 * len(words)
    absent = [{"label": "PHRASE", "pattern": f"absent{index} word{index}"} for index in range(5000)] + [
        {"label": "TOKENS", "pattern": [{"LOWER": f"absent{index}"}, {"OP": "*"}]} for index in range(5000)
    ]
    bigger = EntityRuler()
    bigger.add_patterns(patterns + absent)
    again = bigger(Doc.from_words(words))
    assert bigger.matcher.attempts == attempts
    assert [span.to_dict() for span in again.ents] == [span.to_dict() for span in doc.ents]
