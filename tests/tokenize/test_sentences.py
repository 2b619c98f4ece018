import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elkit.doc.doc import Doc
from elkit.errors import ConfigError
from elkit.tokenize import Sentencizer, Tokenizer, split_sentences

TOKENIZER = Tokenizer()


def sentences(text, **options):
    doc = TOKENIZER(text)
    doc.set_sentence_starts(split_sentences(doc, **options))
    return [sentence.text for sentence in doc.sents]


CASES = [
    ("Hello world.", ["Hello world."]),
    ("It rained. We stayed home.", ["It rained.", "We stayed home."]),
    ("Really? Yes! Fine.", ["Really?", "Yes!", "Fine."]),
    ("What?! No way.", ["What?!", "No way."]),
    ("It went up 5%. 300 people came.", ["It went up 5%.", "300 people came."]),
    ("Wait... what? Oh… Never mind.", ["Wait... what?", "Oh…", "Never mind."]),
    ("He stopped. (Then he left.) Done.", ["He stopped.", "(Then he left.)", "Done."]),
    # no break before a lower-case word
    ("The price is 3.5 vs. 4 today. ok then.", ["The price is 3.5 vs. 4 today. ok then."]),
    ("He said wow! and left.", ["He said wow! and left."]),
    # titles and other abbreviations
    ("Mr. Smith met Dr. Jones at St. Mary's.", ["Mr. Smith met Dr. Jones at St. Mary's."]),
    ("Mrs. Brown and Prof. White agreed.", ["Mrs. Brown and Prof. White agreed."]),
    ("U.S. officials said so.", ["U.S. officials said so."]),
    ("U.S. President Clinton spoke.", ["U.S. President Clinton spoke."]),
    ("They met in the U.S. The talks failed.", ["They met in the U.S.", "The talks failed."]),
    ("Apple Inc. reported profits. Shares rose.", ["Apple Inc. reported profits.", "Shares rose."]),
    ("It starts at 10 a.m. He will be late.", ["It starts at 10 a.m.", "He will be late."]),
    ("He ranked No. 1 in the world.", ["He ranked No. 1 in the world."]),
    ("See e.g. The Guardian for details.", ["See e.g. The Guardian for details."]),
    ("J. R. R. Tolkien wrote it.", ["J. R. R. Tolkien wrote it."]),
    ("On Jan. 5 it snowed.", ["On Jan. 5 it snowed."]),
    ("Bring apples, pears, etc. The rest is here.", ["Bring apples, pears, etc.", "The rest is here."]),
    # quotes and brackets
    ('He said "Hi." Then he left.', ['He said "Hi."', "Then he left."]),
    ('He left. "Why?" she asked.', ["He left.", '"Why?" she asked.']),
    ("“Stop!” He ran.", ["“Stop!”", "He ran."]),
    ("It ended (finally.) Next.", ["It ended (finally.)", "Next."]),
    ("She wrote: ‘done.’ ‘Good,’ he said.", ["She wrote: ‘done.’", "‘Good,’ he said."]),
    # blank lines and newlines
    ("Title\n\nFirst paragraph here", ["Title", "First paragraph here"]),
    ("Title \n \t \n First", ["Title", "First"]),
    ("Line one\r\n\r\nLine two", ["Line one", "Line two"]),
    ("Line one\nline two", ["Line one\nline two"]),
    # other scripts
    ("東京に行きました。大阪も好きです！「本当」", ["東京に行きました。", "大阪も好きです！", "「本当」"]),
    ("Это дом. Он большой.", ["Это дом.", "Он большой."]),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[repr(text) for text, _ in CASES])
def test_sentences(text, expected):
    assert sentences(text) == expected


def test_news_text():
    text = (
        "WASHINGTON 1996-08-22\n"
        "The U.S. Senate on Thursday passed a bill, officials said. Sen. Bob Dole, R-Kan., voted for it.\n"
        "\"It's a good day,\" Dole told reporters. Shares of Acme Corp. rose 2.5% to $31.25.\n\n"
        "In other news, the Dow rose."
    )
    assert sentences(text) == [
        "WASHINGTON 1996-08-22\nThe U.S. Senate on Thursday passed a bill, officials said.",
        "Sen. Bob Dole, R-Kan., voted for it.",
        "\"It's a good day,\" Dole told reporters.",
        "Shares of Acme Corp. rose 2.5% to $31.25.",
        "In other news, the Dow rose.",
    ]


def test_newline_breaks():
    text = "WASHINGTON 1996-08-22\nThe Senate met.\nA vote followed"
    assert sentences(text, newline_breaks=True) == [
        "WASHINGTON 1996-08-22", "The Senate met.", "A vote followed",
    ]  # fmt: skip
    assert sentences(text) == ["WASHINGTON 1996-08-22\nThe Senate met.", "A vote followed"]


def test_starts_are_token_indices():
    doc = TOKENIZER("One. Two. Three")
    assert split_sentences(doc) == [0, 2, 4]


def test_empty_and_whitespace_docs():
    assert split_sentences(TOKENIZER("")) == []
    assert split_sentences(TOKENIZER(" \n\n ")) == []
    assert split_sentences(TOKENIZER("\n\nHi.\n\n")) == [0]


def test_works_on_docs_from_other_tokenizers():
    doc = Doc.from_words(["Hello", "there", ".", "General", "Kenobi", "!"])
    assert split_sentences(doc) == [0, 3]


# --- the component -----------------------------------------------------------------------------------------


def test_sentencizer_sets_sentences():
    component = Sentencizer()
    doc = TOKENIZER("It rained. We stayed home.")
    assert component(doc) is doc
    assert doc.sentence_starts == [0, 3]
    assert component.name == "sentencizer"


def test_sentencizer_pipe_matches_call():
    texts = ["A b. C d.", "", "One\n\nTwo", "Dr. Who? Yes."]
    component = Sentencizer("splitter", newline_breaks=True)
    by_call = [component(TOKENIZER(text)).sentence_starts for text in texts]
    for batch_size in (1, 2, 128):
        piped = component.pipe((TOKENIZER(text) for text in texts), batch_size=batch_size)
        assert [doc.sentence_starts for doc in piped] == by_call
    with pytest.raises(ConfigError):
        component.pipe([], batch_size=0)


def test_sentencizer_config_and_bytes():
    component = Sentencizer("splitter", newline_breaks=True)
    assert component.config == {"newline_breaks": True}
    data = component.to_bytes()
    assert json.loads(data) == {"newline_breaks": True}
    restored = Sentencizer("splitter").from_bytes(data)
    assert restored.settings.newline_breaks is True
    assert restored.name == "splitter"


def test_sentencizer_disk_round_trip(tmp_path):
    component = Sentencizer(newline_breaks=True)
    component.to_disk(tmp_path / "sentencizer")
    assert (tmp_path / "sentencizer" / "config.json").is_file()
    restored = Sentencizer().from_disk(tmp_path / "sentencizer")
    assert restored.settings.newline_breaks is True
    with pytest.raises(ConfigError):
        Sentencizer().from_disk(tmp_path / "missing")


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"newline_breaks": "yes"}', b'{"colour": 1}'])
def test_sentencizer_bad_bytes(data):
    with pytest.raises(ConfigError):
        Sentencizer().from_bytes(data)


def test_sentencizer_pickles():
    restored = pickle.loads(pickle.dumps(Sentencizer("s", newline_breaks=True)))
    assert restored.config == {"newline_breaks": True}
    assert restored.name == "s"


@settings(max_examples=150, deadline=None, database=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab AB.!?…\"'()\n\n1。")) | st.characters(), max_size=80))
def test_any_text_gives_valid_starts(text):
    doc = TOKENIZER(text)
    for newline_breaks in (False, True):
        starts = split_sentences(doc, newline_breaks=newline_breaks)
        assert starts == sorted(set(starts))
        assert (starts[:1] == [0]) == bool(len(doc))
        assert all(0 <= start < len(doc) for start in starts)
        doc.set_sentence_starts(starts)
