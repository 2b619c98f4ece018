"""Schwartz & Hearst abbreviation definitions: find_abbreviations and expand."""

import random

import pytest

from elkit.linking import abbreviations as abbreviation_module
from elkit.linking.abbreviations import expand, find_abbreviations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Patients with coronary heart disease (CHD) were enrolled.", {"CHD": "coronary heart disease"}),
        ("Schwartz-Jampel syndrome (SJS) is a rare disorder.", {"SJS": "Schwartz-Jampel syndrome"}),
        (
            "Germline CDC73 mutations cause hyperparathyroidism-jaw tumour syndrome (HPT-JT) in families.",
            {"HPT-JT": "hyperparathyroidism-jaw tumour syndrome"},
        ),
        (
            "RET mutations cause multiple endocrine neoplasia type 2 (MEN2).",
            {"MEN2": "multiple endocrine neoplasia type 2"},
        ),
        (
            "A child with adult-onset globoid cell leukodystrophy (AO-GLD) was seen.",
            {"AO-GLD": "adult-onset globoid cell leukodystrophy"},
        ),
        (
            "Anti-neutrophil cytoplasmic antibodies (ANCA) were absent.",
            {"ANCA": "Anti-neutrophil cytoplasmic antibodies"},
        ),
        ("the tumour necrosis factor-α (TNF-α) level", {"TNF-α": "tumour necrosis factor-α"}),
        (
            "Calcium was buffered with 1,2-bis(2-aminophenoxy)ethane (BAPTA).",
            {"BAPTA": "1,2-bis(2-aminophenoxy)ethane"},
        ),
    ],
)
def test_long_form_then_short_form(text, expected):
    assert find_abbreviations(text) == expected


def test_only_the_words_that_match_are_taken():
    # "Patients with" precede the long form but are not part of it; the window is min(|A|+5, 2|A|) words
    found = find_abbreviations("In this cohort of patients with the heart rate (HR) was measured.")
    assert found == {"HR": "heart rate"}


def test_short_form_then_long_form():
    assert find_abbreviations("We studied CHD (coronary heart disease) in adults.") == {"CHD": "coronary heart disease"}


def test_short_form_without_a_capital_is_not_taken_from_before_the_parenthesis():
    assert find_abbreviations("We studied this (coronary heart disease in adults).") == {}


@pytest.mark.parametrize(
    "text",
    [
        "coronary heart disease (CHD; n = 20) was common",
        "coronary heart disease (CHD, 12%) was common",
        "coronary heart disease (CHD [3]) was common",
    ],
)
def test_short_form_is_cut_at_semicolon_comma_or_bracket(text):
    assert find_abbreviations(text) == {"CHD": "coronary heart disease"}


def test_multiple_definitions_and_text_order():
    text = (
        "Schwartz-Jampel syndrome (SJS) and coronary heart disease (CHD) differ. "
        "In Schwartz-Jampel syndrome type 1A (SJS1A) myotonia is seen."
    )
    found = find_abbreviations(text)
    assert found == {
        "SJS": "Schwartz-Jampel syndrome",
        "CHD": "coronary heart disease",
        "SJS1A": "Schwartz-Jampel syndrome type 1A",
    }
    assert list(found) == ["SJS", "CHD", "SJS1A"]


def test_first_definition_wins():
    text = "Coronary heart disease (CHD) is common. Later, congenital heart defects (CHD) are discussed."
    assert find_abbreviations(text) == {"CHD": "Coronary heart disease"}


def test_a_candidate_that_fails_does_not_block_a_later_definition():
    text = "As noted (CHD) before. Coronary heart disease (CHD) is common."
    assert find_abbreviations(text) == {"CHD": "Coronary heart disease"}


def test_no_definitions():
    assert find_abbreviations("Coronary heart disease is common in older adults.") == {}
    assert find_abbreviations("Patients with CHD were enrolled.") == {}


@pytest.mark.parametrize(
    "text",
    [
        "The risk was higher in the treated group (p < 0.05) than in controls.",
        "The risk was higher in the treated group (p<0.05) than in controls.",
        "Details are given in the methods section (see below).",
        "The dose was increased in all patients (n=12).",
        "Several enzymes were affected (e.g., kinases).",
        "Results are shown in the figure (Figure 2).",
        "This was reported in earlier work (2003).",
        "The cohort was described in detail (Smith et al., 2003).",
    ],
)
def test_parentheses_without_an_abbreviation_are_ignored(text):
    assert find_abbreviations(text) == {}


def test_long_form_shorter_than_or_containing_the_short_form_is_rejected():
    assert find_abbreviations("levels of the CHD gene product (CHD) rose") == {}
    assert find_abbreviations("the Hb (HB) level") == {}


def test_long_form_does_not_cross_a_sentence_boundary():
    assert find_abbreviations("Hearts were examined. Disease (HD) was rare.") == {}


def test_abbreviation_inside_an_enclosing_parenthesis():
    found = find_abbreviations("Risk factors (such as coronary heart disease (CHD)) were recorded.")
    assert found == {"CHD": "coronary heart disease"}


def test_long_form_containing_an_earlier_parenthesis_is_balanced():
    found = find_abbreviations("tumour necrosis factor alpha (TNF-alpha) receptor (TNFR) binds")
    assert found["TNF-alpha"] == "tumour necrosis factor alpha"
    assert found["TNFR"] == "tumour necrosis factor alpha (TNF-alpha) receptor"


def test_whitespace_in_long_form_is_normalised():
    assert find_abbreviations("coronary\n heart\tdisease (CHD)") == {"CHD": "coronary heart disease"}


@pytest.fixture
def abbreviations():
    return find_abbreviations(
        "Schwartz-Jampel syndrome (SJS) and coronary heart disease (CHD) and heart rate (HR) were studied."
    )


def test_expand_exact(abbreviations):
    assert expand("CHD", abbreviations) == "coronary heart disease"
    assert expand("  SJS ", abbreviations) == "Schwartz-Jampel syndrome"


def test_expand_plural(abbreviations):
    assert expand("CHDs", abbreviations) == "coronary heart disease"


def test_expand_first_token(abbreviations):
    assert expand("SJS type 1A", abbreviations) == "Schwartz-Jampel syndrome type 1A"
    assert expand("SJS  type\n1A", abbreviations) == "Schwartz-Jampel syndrome type 1A"
    assert expand("CHDs in adults", abbreviations) == "coronary heart disease in adults"


def test_expand_two_word_short_form():
    assert expand("HPT JT carriers", {"HPT JT": "hyperparathyroidism-jaw tumour"}) == (
        "hyperparathyroidism-jaw tumour carriers"
    )


@pytest.mark.parametrize("mention", ["XYZ", "chd", "CH", "S", "", "   ", "type 1A SJS", "CHDss"])
def test_expand_unknown(abbreviations, mention):
    assert expand(mention, abbreviations) is None


def test_expand_with_no_abbreviations():
    assert expand("CHD", {}) is None


def test_found_abbreviations_expand():
    text = "Schwartz-Jampel syndrome (SJS) is rare."
    assert expand("SJS type 1A", find_abbreviations(text)) == "Schwartz-Jampel syndrome type 1A"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "(",
        ")",
        "()",
        "( )",
        "(((",
        ")))",
        "a (b",
        "a b) (c",
        "coronary heart disease (CHD",
        "coronary heart disease CHD)",
        "((CHD))",
        "(()(()))())(",
        "x (" + "A" * 50 + ")",
        "\n\n(\n)\n",
        "İİİ (İİ) ﬁﬁ (ﬁ) ß (SS)",
    ],
)
def test_garbage_does_not_raise(text):
    assert isinstance(find_abbreviations(text), dict)


def test_unbalanced_parenthesis_before_a_definition():
    text = "An unclosed ( parenthesis. Then coronary heart disease (CHD) appears."
    assert find_abbreviations(text) == {"CHD": "coronary heart disease"}


class Work:
    """Counts what `find_abbreviations` does: helper calls, and characters each helper reads or copies."""

    def __init__(self, monkeypatch):
        self.calls = 0
        self.characters = 0
        measures = {
            "_paren_pairs": lambda args, result: len(args[0]),
            "_parenthesised": lambda args, result: len(result or ""),
            "_long_form_window": lambda args, result: min(args[1], args[2] * abbreviation_module._CHARS_PER_WORD),
            "_best_long_form": lambda args, result: len(args[0]) + len(args[1]),
        }
        for name, measure in measures.items():
            monkeypatch.setattr(abbreviation_module, name, self._counted(getattr(abbreviation_module, name), measure))

    def _counted(self, function, measure):
        def counted(*args):
            result = function(*args)
            self.calls += 1
            self.characters += measure(args, result)
            return result

        return counted

    def of(self, text):
        """(calls, characters) of one run over `text`."""
        self.calls = self.characters = 0
        find_abbreviations(text)
        return self.calls, self.characters


def _random(length):
    generator = random.Random(0)
    return "".join(generator.choice("abcdefABCDEF0123 ();,.-\n") for _ in range(length))


LONG_TEXTS = {
    "open": lambda length: "(" * length,
    "close": lambda length: ")" * length,
    "nested": lambda length: "(" * (length // 2) + ")" * (length // 2),
    "many-pairs": lambda length: ("word " * 3 + "(AB) " * length)[:length],
    "long-windows": lambda length: ("a b c d e f g h i j k l m n o (ABCDEFGHIJ) " * length)[:length],
    "unclosed": lambda length: ("ab cd (" * length)[:length],
    "random": _random,
    "definitions": lambda length: ("Coronary heart disease (CHD) is common. " * length)[:length],
}


@pytest.mark.parametrize("make", LONG_TEXTS.values(), ids=LONG_TEXTS.keys())
def test_work_is_linear_in_the_length(make, monkeypatch):
    """Twice the text is at most about twice the work, and a bounded amount per character (no timing)."""
    work = Work(monkeypatch)
    assert len(make(200_000)) == 200_000
    calls, characters = work.of(make(100_000))
    double_calls, double_characters = work.of(make(200_000))
    assert double_calls <= 2.05 * calls + 10
    assert double_characters <= 2.05 * characters + 2_000
    assert double_characters <= 60 * 200_000


def test_long_garbage_gives_a_result():
    for name, make in LONG_TEXTS.items():
        assert isinstance(find_abbreviations(make(200_000)), dict), name
    assert find_abbreviations(LONG_TEXTS["definitions"](200_000)) == {"CHD": "Coronary heart disease"}
