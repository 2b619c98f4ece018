import io

import pytest

from elkit.corpora import ReadReport, read_aida, write_aida
from elkit.doc import NIL
from elkit.errors import FormatError

AIDA = (
    "-DOCSTART- (1 EU)\n"
    "EU\tB\tEU\t--NME--\n"
    "rejects\n"
    "German\tB\tGerman\tGermany\thttp://en.wikipedia.org/wiki/Germany\t11867\t/m/0345h\n"
    "call\n"
    "\n"
    "Peter\tB\tPeter Blackburn\t--NME--\n"
    "Blackburn\tI\tPeter Blackburn\t--NME--\n"
    "\n"
    "-DOCSTART- (2 China)\n"
    "China\tB\tChina\tPeople\\u0027s_Republic_of_China\thttp://en.wikipedia.org/wiki/China\t5405\t/m/0d05w3\n"
    "beat\n"
    "Phil\tB\tPhil Mickelson\tPhil_Mickelson\thttp://en.wikipedia.org/wiki/Phil_Mickelson\t1\n"
    "\n"
    "Mickelson\tI\tPhil Mickelson\tPhil_Mickelson\thttp://en.wikipedia.org/wiki/Phil_Mickelson\t1\n"
    ".\n"
    "\n"
)


def write(tmp_path, content):
    path = tmp_path / "aida.tsv"
    path.write_text(content, encoding="utf-8")
    return path


def test_reads_links_nil_and_documents(tmp_path):
    first, second = read_aida(write(tmp_path, AIDA))
    assert first.meta["id"] == "1 EU"
    assert first.text == "EU rejects German call\nPeter Blackburn"
    assert [(span.text, span.kb_id) for span in first.ents] == [
        ("EU", NIL), ("German", "Germany"), ("Peter Blackburn", NIL)]
    assert first.ents[1].attrs["freebase_id"] == "/m/0345h"
    assert second.ents[0].kb_id == "People's_Republic_of_China"
    mickelson = second.ents[1]
    assert mickelson.kb_id == "Phil_Mickelson" and len(mickelson) == 2  # crosses a sentence break
    assert second.sentence_starts == [0, 3]


def test_round_trip_is_lossless(tmp_path):
    output = io.StringIO()
    write_aida(read_aida(write(tmp_path, AIDA)), output)
    assert output.getvalue() == AIDA


def test_mention_split_oddly(tmp_path):
    orphan = AIDA.replace("Peter\tB\tPeter Blackburn\t--NME--\n", "Peter\n")
    with pytest.raises(FormatError, match="no mention \\(B\\) on the line before") as error:
        list(read_aida(write(tmp_path, orphan)))
    assert error.value.line == 8
    mismatch = AIDA.replace("Blackburn\tI\tPeter Blackburn", "Blackburn\tI\tPeter Black")
    with pytest.raises(FormatError, match="other fields than its start on line 7"):
        list(read_aida(write(tmp_path, mismatch)))
    wrong_text = AIDA.replace("EU\tB\tEU\t", "EU\tB\tEC\t")
    with pytest.raises(FormatError, match="does not match its tokens"):
        list(read_aida(write(tmp_path, wrong_text)))
    columns = AIDA.replace("call\n", "call\tB\n")
    with pytest.raises(FormatError, match="found 2"):
        list(read_aida(write(tmp_path, columns)))


def test_lenient_skips_the_broken_document(tmp_path):
    orphan = AIDA.replace("Peter\tB\tPeter Blackburn\t--NME--\n", "Peter\n")
    report = ReadReport()
    docs = list(read_aida(write(tmp_path, orphan), on_error="skip", report=report))
    assert [doc.meta["id"] for doc in docs] == ["2 China"] and report.skipped_count == 1


def test_document_without_tokens(tmp_path):
    with pytest.raises(FormatError, match="no tokens") as error:
        list(read_aida(write(tmp_path, "-DOCSTART- (1 empty)\n\n" + AIDA)))
    assert error.value.line == 1
