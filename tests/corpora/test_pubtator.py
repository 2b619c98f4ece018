import io

import pytest

from elkit.corpora import ReadReport, read_pubtator, split_ids, write_pubtator
from elkit.doc import NIL
from elkit.errors import FormatError

PUBTATOR = (
    "100|t|Beta-catenin-stabilizing mutations in skin tumours.\n"
    "100|a|We studied colon cancers and breast or ovarian cancer in 20 families.\n"
    "100\t0\t12\tBeta-catenin\tGene\tG1\n"
    "100\t38\t50\tskin tumours\tDiseaseClass\tD012878\n"
    "100\t63\t76\tcolon cancers\tDiseaseClass\tD003110\n"
    "100\t81\t105\tbreast or ovarian cancer\tCompositeMention\tD001943|D010051\tbreast cancer|ovarian cancer\n"
    "100\tCID\tD001\tD003110\n"
    "\n"
    "200|t|Toxicity of drugs\n"
    "200|a|\n"
    "200\t12\t17\tdrugs\tChemical\t-1\n"
    "\n"
)


def write(tmp_path, content):
    path = tmp_path / "corpus.pubtator"
    path.write_text(content, encoding="utf-8")
    return path


def test_reads_mentions_ids_and_relations(tmp_path):
    first, second = read_pubtator(write(tmp_path, PUBTATOR))
    assert first.meta["id"] == "100"
    assert first.text.startswith("Beta-catenin-stabilizing mutations in skin tumours. We studied")
    assert [(span.text, span.label, span.kb_id) for span in first.ents] == [
        ("Beta-catenin", "Gene", "G1"),
        ("skin tumours", "DiseaseClass", "D012878"),
        ("colon cancers", "DiseaseClass", "D003110"),
        ("breast or ovarian cancer", "CompositeMention", "D001943|D010051"),
    ]
    assert split_ids(first.ents[3].kb_id) == ["D001943", "D010051"]
    assert split_ids("D1+D2") == ["D1", "D2"]
    assert first.meta["relations"] == [["CID", "D001", "D003110"]]
    assert first.has_sentences and len(first.sentence_starts) == 2
    assert second.ents[0].kb_id == NIL


def test_round_trip_is_lossless(tmp_path):
    output = io.StringIO()
    write_pubtator(read_pubtator(write(tmp_path, PUBTATOR)), output)
    assert output.getvalue() == PUBTATOR


def test_offset_mismatch_names_line_and_field(tmp_path):
    bad = PUBTATOR.replace("100\t38\t50\tskin tumours", "100\t37\t49\tskin tumours")
    with pytest.raises(FormatError, match="does not match the text") as error:
        list(read_pubtator(write(tmp_path, bad)))
    assert error.value.line == 4 and error.value.field == "mention"


def test_whitespace_only_difference_is_kept_with_a_warning(tmp_path):
    padded = PUBTATOR.replace("\tskin tumours\t", "\tskin tumours \t")
    report = ReadReport()
    docs = list(read_pubtator(write(tmp_path, padded), report=report))
    assert report.warning_count == 1 and "whitespace only" in report.warnings[0]
    output = io.StringIO()
    write_pubtator(docs, output)
    assert output.getvalue() == padded


def test_lenient_skips_bad_mention_lines(tmp_path):
    bad = PUBTATOR.replace("100\t63\t76\t", "100\tsixty\t76\t")
    report = ReadReport()
    first, _ = read_pubtator(write(tmp_path, bad), on_error="skip", report=report)
    assert report.skipped_count == 1 and report.skipped[0].line == 5
    assert len(first.ents) == 3


def test_structural_errors(tmp_path):
    with pytest.raises(FormatError, match="before the document's \\|t\\| title"):
        list(read_pubtator(write(tmp_path, "100\t0\t1\tA\tX\tY\n")))
    with pytest.raises(FormatError, match="differs from"):
        list(read_pubtator(write(tmp_path, "100|t|A b\n101\t0\t1\tA\tX\tY\n")))
    with pytest.raises(FormatError, match="at least 5"):
        list(read_pubtator(write(tmp_path, "100|t|A b\n100\t0\t1\tA\n")))


def test_empty_document(tmp_path):
    with pytest.raises(FormatError, match="empty title and abstract"):
        list(read_pubtator(write(tmp_path, "300|t|\n300|a|\n\n")))
