import pickle

import pytest

from elkit.doc import NIL, Candidate, Doc, Span
from elkit.errors import AlignmentError, DataError


def make_doc() -> Doc:
    return Doc.from_words(["Ada", "Lovelace", "met", "Charles", "Babbage", "."], [True, True, True, True, False, False])


def test_from_words_builds_text_and_offsets():
    doc = make_doc()
    assert doc.text == "Ada Lovelace met Charles Babbage."
    assert doc.words == ["Ada", "Lovelace", "met", "Charles", "Babbage", "."]
    assert [token.idx for token in doc] == [0, 4, 13, 17, 25, 32]
    assert doc[1].whitespace == " " and doc[4].whitespace == ""
    assert doc[-1].text == "."


def test_from_words_rejects_bad_input():
    with pytest.raises(DataError, match="word 1 is empty"):
        Doc.from_words(["a", ""])
    with pytest.raises(DataError, match="not whitespace"):
        Doc.from_words(["a", "b"], ["x", ""])
    with pytest.raises(DataError, match="2 words but 1 spaces"):
        Doc.from_words(["a", "b"], [True])


def test_constructor_validates_offsets():
    with pytest.raises(DataError, match="is in no token"):
        Doc("ab cd", [0], [2])
    with pytest.raises(DataError, match="overlaps"):
        Doc("abcd", [0, 1], [2, 4])
    with pytest.raises(DataError, match="outside the text or empty"):
        Doc("ab", [0], [3])
    doc = Doc("  ab\ncd ", [2, 5], [4, 7])
    assert doc.words == ["ab", "cd"]


def test_char_span_strict_and_snapping():
    doc = make_doc()
    span = doc.char_span(0, 12, "PER", "Q7259")
    assert (span.start, span.end, span.text, span.label, span.kb_id) == (0, 2, "Ada Lovelace", "PER", "Q7259")
    with pytest.raises(AlignmentError, match="does not fall on token boundaries"):
        doc.char_span(1, 12)
    assert doc.char_span(1, 12, alignment_mode="expand").text == "Ada Lovelace"
    assert doc.char_span(1, 12, alignment_mode="contract").text == "Lovelace"
    with pytest.raises(AlignmentError, match="covers no whole token"):
        doc.char_span(1, 3, alignment_mode="contract")
    with pytest.raises(AlignmentError, match="outside the text"):
        doc.char_span(5, 100)
    with pytest.raises(AlignmentError, match="unknown alignment_mode"):
        doc.char_span(0, 3, alignment_mode="loose")  # type: ignore[arg-type]


def test_ents_are_sorted_and_must_not_overlap():
    doc = make_doc()
    babbage = doc.char_span(17, 32, "PER")
    ada = doc.char_span(0, 12, "PER")
    doc.ents = [babbage, ada]
    assert doc.ents == (ada, babbage)
    with pytest.raises(DataError, match="entities overlap"):
        doc.ents = [ada, doc.span(1, 3, "X")]
    other = make_doc()
    with pytest.raises(DataError, match="not a Span of this document"):
        doc.ents = [other.span(0, 1)]


def test_span_groups_allow_overlaps_but_check_ownership():
    doc = make_doc()
    doc.spans["candidates"] = [doc.span(0, 2), doc.span(1, 2)]
    assert len(doc.spans["candidates"]) == 2
    with pytest.raises(DataError, match="not a Span of this document"):
        doc.spans["bad"] = [make_doc().span(0, 1)]


def test_span_fields_and_replace():
    doc = make_doc()
    candidate = Candidate("Q7259", alias="Ada Lovelace", prior=0.9, scores={"exact": 1.0})
    span = doc.span(0, 2, "PER", candidates=[candidate])
    assert isinstance(span.candidates, tuple)
    linked = span.replace(kb_id="Q7259", link_score=0.97)
    assert linked.is_linked and not span.is_linked
    assert linked.start_char == 0 and linked.end_char == 12
    assert span.replace(kb_id=NIL).is_linked is False
    assert [token.text for token in linked] == ["Ada", "Lovelace"]
    data = linked.to_dict()
    assert data == {"start": 0, "end": 12, "token_start": 0, "token_end": 1, "label": "PER", "kb_id": "Q7259",
                    "link_score": 0.97, "candidates": [candidate.to_dict()]}
    with pytest.raises(DataError):
        Span(doc, 2, 2)


def test_candidate_checks_prior_and_round_trips():
    with pytest.raises(DataError, match="prior"):
        Candidate("Q1", prior=1.5)
    with pytest.raises(DataError, match="non-empty"):
        Candidate("")
    candidate = Candidate("Q1", "one", 0.5, {"fuzzy": 0.8}, score=0.7)
    assert Candidate.from_dict(candidate.to_dict()) == candidate
    assert hash(candidate) == hash(Candidate.from_dict(candidate.to_dict()))


def test_sentences():
    doc = make_doc()
    assert not doc.has_sentences
    assert [sentence.text for sentence in doc.sents] == [doc.text]
    assert doc[0].is_sent_start is None
    doc.set_sentence_starts([0, 2])
    assert [sentence.text for sentence in doc.sents] == ["Ada Lovelace", "met Charles Babbage."]
    assert doc[2].is_sent_start is True and doc[4].is_sent_start is False
    with pytest.raises(DataError, match="include token 0"):
        doc.set_sentence_starts([2])
    with pytest.raises(DataError, match="outside the document"):
        doc.set_sentence_starts([0, 99])


def test_token_lexical_attributes():
    doc = Doc.from_words(["Hello", "1,000.5", "U.S.", "!", "seven", "3/4"])
    hello, number, usa, bang, seven, fraction = doc
    assert hello.shape == "Xxxxx" and hello.is_title and hello.is_alpha and hello.lower == "hello"
    assert number.like_num and number.shape == "d,ddd.d"
    assert usa.shape == "X.X." and not usa.is_alpha
    assert bang.is_punct
    assert seven.like_num and fraction.like_num and not hello.like_num
    assert hello.prefix == "H" and hello.suffix == "llo"


def test_token_attrs_and_index_lookup():
    doc = make_doc()
    doc.token_attrs["pos"] = ["NNP", "NNP", "VBD", "NNP", "NNP", "."]
    assert doc[2].get("pos") == "VBD" and doc[2].get("chunk") is None
    assert doc.token_index_at(5) == 1 and doc.token_index_at(3) is None


def test_pickle_and_copy_keep_annotations():
    doc = make_doc()
    doc.ents = [doc.span(0, 2, "PER", "Q7259")]
    doc.spans["all"] = [doc.span(0, 1), doc.span(0, 2)]
    doc.set_sentence_starts([0, 3])
    doc.meta["id"] = "d1"
    for restored in (pickle.loads(pickle.dumps(doc)), doc.copy()):
        assert restored.text == doc.text and restored.words == doc.words
        assert [(span.text, span.kb_id) for span in restored.ents] == [("Ada Lovelace", "Q7259")]
        assert restored.ents[0].doc is restored
        assert all(span.doc is restored for span in restored.spans["all"])
        assert restored.sentence_starts == [0, 3] and restored.meta == {"id": "d1"}


def test_slicing_and_index_errors():
    doc = make_doc()
    assert doc[0:2].text == "Ada Lovelace"
    with pytest.raises(IndexError):
        doc[10]
    with pytest.raises(DataError, match="contiguous"):
        doc[0:4:2]


def test_from_docs_keeps_tokens_entities_sentences_and_groups():
    first = Doc.from_words(["Ada", "met", "Babbage", ".", "They", "talked", "."])
    first.set_sentence_starts([0, 4])
    first.ents = [first.span(0, 1, "PER", "Q7259"), first.span(2, 3, "PER")]
    first.spans["sc"] = [first.span(0, 1, "PER"), first.span(0, 3, "EVENT")]
    second = Doc.from_words(["Paris", "is", "big"])
    second.ents = [second.span(0, 1, "LOC")]
    joined = Doc.from_docs([first, second])
    assert joined.text == "Ada met Babbage . They talked .\n\nParis is big"
    assert joined.words == first.words + second.words
    assert [(span.text, span.label, span.kb_id) for span in joined.ents] == [
        ("Ada", "PER", "Q7259"), ("Babbage", "PER", ""), ("Paris", "LOC", "")]
    assert [span.text for span in joined.spans["sc"]] == ["Ada", "Ada met Babbage"]
    assert [sentence.text for sentence in joined.sents] == ["Ada met Babbage .", "They talked .", "Paris is big"]
    assert not Doc.from_docs([second, second]).has_sentences
    assert Doc.from_docs([]).text == ""
    with pytest.raises(DataError, match="whitespace"):
        Doc.from_docs([first, second], separator=" | ")
