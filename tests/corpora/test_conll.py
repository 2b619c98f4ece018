import io

import pytest

from elkit.corpora import ReadReport, read_conll, write_conll
from elkit.errors import FormatError

CONLL_IOB2 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O

"""

CONLL_IOB1 = """-DOCSTART- -X- O O

Hans NNP I-NP I-PER
Ruth NNP I-NP B-PER
Muller NNP I-NP I-PER
in IN I-PP O
Bonn NNP I-NP I-LOC

"""

TWO_COLUMNS = "Popular\tO\nAI\tB-field\nresearch\tI-field\n\nDeep\tB-algorithm\nlearning\tI-algorithm\n\n"


def write(tmp_path, content, name="data.conll"):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_reads_documents_sentences_and_entities(tmp_path):
    docs = list(read_conll(write(tmp_path, CONLL_IOB2)))
    assert len(docs) == 2
    first = docs[0]
    assert first.text == "EU rejects German call .\nPeter Blackburn"
    assert first.sentence_starts == [0, 5]
    assert [(span.text, span.label) for span in first.ents] == [
        ("EU", "ORG"), ("German", "MISC"), ("Peter Blackburn", "PER")]
    assert first.token_attrs["pos"][:3] == ["NNP", "VBZ", "JJ"]
    assert first.token_attrs["chunk"][1] == "B-VP"


def test_round_trip_is_lossless(tmp_path):
    for content in (CONLL_IOB2, CONLL_IOB1, TWO_COLUMNS):
        output = io.StringIO()
        write_conll(read_conll(write(tmp_path, content)), output)
        assert output.getvalue() == content


def test_iob1_detected_and_adjacent_entities_split(tmp_path):
    (doc,) = read_conll(write(tmp_path, CONLL_IOB1))
    assert [span.text for span in doc.ents] == ["Hans", "Ruth Muller", "Bonn"]
    output = io.StringIO()
    write_conll([doc], output, scheme="iob2")
    assert "Hans NNP I-NP B-PER\nRuth NNP I-NP B-PER\nMuller NNP I-NP I-PER" in output.getvalue()


def test_two_column_files_give_one_doc_per_sentence(tmp_path):
    docs = list(read_conll(write(tmp_path, TWO_COLUMNS)))
    assert [doc.text for doc in docs] == ["Popular AI research", "Deep learning"]
    assert [span.label for doc in docs for span in doc.ents] == ["field", "algorithm"]


def test_inside_after_outside_in_iob2_names_the_line(tmp_path):
    bad = CONLL_IOB2.replace("Blackburn NNP I-NP I-PER", "Blackburn NNP I-NP I-LOC")
    with pytest.raises(FormatError) as error:
        list(read_conll(write(tmp_path, bad)))
    assert error.value.line == 10 and error.value.field == "tag"
    assert "data.conll:10" in str(error.value) and "does not continue" in str(error.value)
    with pytest.raises(FormatError, match="does not continue"):
        list(read_conll(write(tmp_path, "A B-X\nb O\nc I-Y\n"), scheme="iob2"))


def test_wrong_column_count(tmp_path):
    bad = CONLL_IOB2.replace("call NN I-NP O", "call NN O")
    with pytest.raises(FormatError, match="expected 4 columns .* found 3") as error:
        list(read_conll(write(tmp_path, bad)))
    assert error.value.line == 6


def test_lenient_mode_skips_and_counts(tmp_path):
    bad = CONLL_IOB2.replace("call NN I-NP O", "call NN O")
    report = ReadReport()
    docs = list(read_conll(write(tmp_path, bad), on_error="skip", report=report))
    assert report.skipped_count == 1 and report.skipped[0].line == 6
    assert docs[0].text == "Peter Blackburn"  # the broken sentence is skipped, nothing else
    assert len(docs) == 2


def test_non_utf8_line(tmp_path):
    path = tmp_path / "latin1.conll"
    path.write_bytes(b"M\xfcller B-PER\n\n")
    with pytest.raises(FormatError, match="not valid UTF-8") as error:
        list(read_conll(path))
    assert error.value.line == 1


def test_biluo_file(tmp_path):
    content = "New B-LOC\nYork L-LOC\nis O\nbig O\nIBM U-ORG\n\n"
    (doc,) = read_conll(write(tmp_path, content))
    assert [span.text for span in doc.ents] == ["New York", "IBM"]
    output = io.StringIO()
    write_conll([doc], output)
    assert output.getvalue() == content
