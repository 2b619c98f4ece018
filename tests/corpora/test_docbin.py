import pytest

from elkit.corpora import doc_from_spacy, doc_to_spacy, read_docbin, write_docbin
from elkit.doc import Doc

spacy = pytest.importorskip("spacy")


def sample_doc() -> Doc:
    doc = Doc("Ada Lovelace  met\nBabbage in London. ", [0, 4, 14, 18, 26, 29, 35], [3, 12, 17, 25, 28, 35, 36])
    doc.ents = [doc.span(0, 2, "PER", "Q7259"), doc.span(5, 6, "LOC", "Q84")]
    doc.spans["all"] = [doc.span(0, 2, "PER"), doc.span(1, 2, "PER")]
    doc.set_sentence_starts([0, 3])
    doc.token_attrs["pos"] = ["NNP", "NNP", "VBD", "NNP", "IN", "NNP", "."]
    doc.meta = {"id": "d1"}
    return doc


def test_elkit_spacy_elkit(tmp_path):
    original = sample_doc()
    path = tmp_path / "docs.spacy"
    assert write_docbin([original], path) == 1
    (restored,) = read_docbin(path)
    assert restored.text == original.text
    assert restored.words == original.words
    assert [(s.start, s.end, s.label, s.kb_id) for s in restored.ents] == [(0, 2, "PER", "Q7259"), (5, 6, "LOC", "Q84")]
    assert [(s.start, s.end) for s in restored.spans["all"]] == [(0, 2), (1, 2)]
    assert restored.sentence_starts == [0, 3]
    assert restored.token_attrs["pos"] == original.token_attrs["pos"]
    assert restored.meta == {"id": "d1"}


def test_spacy_elkit_spacy(tmp_path):
    nlp = spacy.blank("en")
    spacy_doc = nlp("Marie Curie moved to  Paris.\n\nShe won.")
    spacy_doc.ents = [spacy_doc.char_span(0, 11, "PER", kb_id="Q7186"), spacy_doc.char_span(22, 27, "LOC")]
    path = tmp_path / "in.spacy"
    spacy.tokens.DocBin(docs=[spacy_doc]).to_disk(path)
    (doc,) = read_docbin(path)
    back = doc_to_spacy(doc, nlp.vocab)
    assert [token.text for token in back] == [token.text for token in spacy_doc]
    assert [token.whitespace_ for token in back] == [token.whitespace_ for token in spacy_doc]
    assert [(e.start, e.end, e.label_, e.kb_id_) for e in back.ents] == [
        (e.start, e.end, e.label_, e.kb_id_) for e in spacy_doc.ents]
    assert doc_from_spacy(back).words == doc.words


def test_not_a_docbin(tmp_path):
    from elkit.errors import FormatError

    path = tmp_path / "bad.spacy"
    path.write_bytes(b"\x78garbage")
    with pytest.raises(FormatError, match="not a spaCy DocBin"):
        list(read_docbin(path))
