"""The alias normaliser: each step, its settings round trip, and idempotence."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elkit.kb import AliasNormalizer, Entity, KBBuilder, normalize_alias, open_kb


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Ｐａｒｉｓ", "paris"),  # NFKC: full-width letters
        ("ﬁnance", "finance"),  # NFKC: ligature
        ("PARIS", "paris"),
        ("Straße", "strasse"),  # case folding, not just lower()
        ("Ménière’s disease", "meniere disease"),
        ("Ménière's Disease", "meniere disease"),
        ("São  Paulo", "sao paulo"),
        ("  Hello,   World!! ", "hello world"),
        ("non-small-cell lung_cancer", "non small cell lung cancer"),
        ("U.S.A.", "usa"),
        ("U.S. Army", "us army"),
        ("U.S", "us"),  # initials: every way of writing them gives one key
        ("U. S.", "us"),
        ("the U. S. Army", "the us army"),
        ("J. R. R. Tolkien", "jrr tolkien"),
        ("J. Smith", "j smith"),  # one initial before a name stays a word
        ("St. Louis", "st louis"),
        ("Crohn's", "crohn"),
        ("O'Neil", "oneil"),
        ("diseases", "diseases"),  # no singularisation by default
        ("...", ""),
        ("", ""),
    ],
)
def test_default_normalisation(text, key):
    assert normalize_alias(text) == key
    assert AliasNormalizer()(text) == key


def test_dotted_abbreviations_can_be_kept():
    assert AliasNormalizer(abbreviations=False)("U.S.A.") == "u s a"
    assert AliasNormalizer(abbreviations=False, strip_punctuation=False)("U.S.A.") == "u.s.a."


def test_each_step_can_be_turned_off():
    assert AliasNormalizer(lowercase=False)("Ménière Disease") == "Meniere Disease"
    assert AliasNormalizer(strip_accents=False)("Ménière") == "ménière"
    assert AliasNormalizer(strip_punctuation=False)("Hello,  World!") == "hello, world!"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("diseases", "disease"),
        ("Inflammatory Bowel Diseases", "inflammatory bowel disease"),
        ("allergies", "allergy"),
        ("churches", "church"),
        ("boxes", "box"),
        ("classes", "class"),
        ("glass", "glass"),  # -ss is kept
        ("diagnosis", "diagnosis"),  # -sis is kept
        ("virus", "virus"),  # -us is kept
        ("gas", "gas"),  # three letters or fewer are kept
        ("covid19s", "covid19s"),  # not alphabetic: kept
    ],
)
def test_optional_singularisation(text, key):
    assert AliasNormalizer(singularize=True)(text) == key


def test_settings_round_trip_through_a_dict():
    normalizer = AliasNormalizer(lowercase=False, singularize=True)
    settings_dict = normalizer.to_dict()
    assert settings_dict == {
        "lowercase": False,
        "strip_accents": True,
        "strip_punctuation": True,
        "abbreviations": True,
        "singularize": True,
        "initials": True,
    }
    rebuilt = AliasNormalizer.from_dict(settings_dict)
    assert rebuilt == normalizer
    assert rebuilt("Crohn's Diseases") == normalizer("Crohn's Diseases") == "Crohn Disease"
    # Unknown keys (from a newer manifest) are ignored; missing keys take their defaults, except `initials`,
    # which a KB built before it did not use.
    assert AliasNormalizer.from_dict({"singularize": 1, "future_option": True}) == \
        AliasNormalizer(singularize=True, initials=False)
    assert AliasNormalizer.from_dict({})("U. S.") == "u s"


def test_a_kb_keeps_its_normaliser(tmp_path):
    builder = KBBuilder(AliasNormalizer(singularize=True))
    builder.add_entity(Entity("D1", "Inflammatory Bowel Diseases"), ["Inflammatory Bowel Diseases"])
    builder.build(tmp_path / "kb")
    kb = open_kb(tmp_path / "kb")
    assert kb.normalizer == AliasNormalizer(singularize=True)
    assert [candidate.entity_id for candidate in kb.get_normalized_candidates("inflammatory bowel disease")] == ["D1"]


TRICKY_CHARACTERS = st.sampled_from(list("aAsSeiyz .'’,-_ßſİıﬁ①Ａé\u00a0\u0301\u0307\u0345\u1100\u1161\u11a8한ŉǅ"))


@settings(max_examples=400, deadline=None)
@given(text=st.text() | st.text(TRICKY_CHARACTERS, max_size=16), singularize=st.booleans())
def test_normalising_is_idempotent(text, singularize):
    normalizer = AliasNormalizer(singularize=singularize)
    once = normalizer(text)
    assert normalizer(once) == once
    assert once == once.strip() and "  " not in once


@pytest.mark.parametrize(
    ("normalizer", "text"),
    [
        # "x\u0301's" -> "x's" (the combining accent hides the possessive), then "x's" -> "x".
        (AliasNormalizer(strip_punctuation=False), "x\u0301's"),
        # "ß\u0307" casefolds to "ss\u0307", which is not NFC; the second pass composes it to "s\u1e61".
        (AliasNormalizer(strip_accents=False, strip_punctuation=False), "ß\u0307"),
    ],
)
def test_non_default_settings_are_idempotent(normalizer, text):
    once = normalizer(text)
    assert normalizer(once) == once
