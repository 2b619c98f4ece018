"""The one line reader (`elkit.io.lines`) and the one "is this JSONL?" rule every reader uses."""

import pytest

from elkit.corpora.formats import detect_format
from elkit.corpora.texts import read_texts
from elkit.errors import FormatError
from elkit.io.lines import ReadReport, iter_lines, looks_like_jsonl, parse_lines, read_lines, sniff_jsonl


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_bytes("\ufeffone\r\n\n".encode() + b"tw\xffo\n" + b"three\n")
    return path


def test_iter_lines_numbers_from_one_drops_the_byte_order_mark_and_yields_decoding_errors(broken):
    lines = list(iter_lines(broken))
    assert [number for number, _ in lines] == [1, 2, 3, 4]
    assert lines[0][1] == "one" and lines[1][1] == "" and lines[3][1] == "three"
    error = lines[2][1]
    assert isinstance(error, FormatError) and error.path == str(broken) and error.line == 3


def test_read_lines_strict_stops_at_the_bad_line_naming_file_and_line(broken):
    with pytest.raises(FormatError) as caught:
        list(read_lines(broken))
    assert str(caught.value).startswith(f"{broken}:3: not valid UTF-8")


def test_read_lines_lenient_skips_and_counts(broken):
    report = ReadReport()
    assert list(read_lines(broken, on_error="skip", report=report)) == [(1, "one"), (2, ""), (4, "three")]
    assert report.skipped_count == 1 and report.skipped[0].line == 3


def test_a_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="cannot open"):
        list(read_lines(tmp_path / "missing.txt"))


def test_parse_lines_skips_blank_lines_and_locates_parser_errors(tmp_path):
    path = tmp_path / "numbers.txt"
    path.write_text("1\n\n2\nx\n4\n", encoding="utf-8")

    def parse(text: str, number: int) -> tuple[int, int]:
        if not text.isdigit():
            raise FormatError("not a number", field="value")
        return number, int(text)

    report = ReadReport()
    assert list(parse_lines(path, parse, on_error="skip", report=report)) == [(1, 1), (3, 2), (5, 4)]
    assert str(report.skipped[0]) == f"{path}:4 [value]: not a number"
    with pytest.raises(FormatError, match=r":4 \[value\]"):
        list(parse_lines(path, parse))


@pytest.mark.parametrize(("first", "expected"), [
    ('{"text": "a"}', True), ('  {"text": "a"}', True), ('\ufeff{"text": "a"}', True),
    ("plain text { with a brace", False), ("[1, 2]", False), ("", False),
])
def test_looks_like_jsonl(first, expected):
    assert looks_like_jsonl(first) is expected


def test_sniff_jsonl_reads_the_first_non_blank_line(tmp_path):
    jsonl = tmp_path / "texts.data"
    jsonl.write_text('\n\n  \n{"text": "Paris"}\n', encoding="utf-8")
    plain = tmp_path / "texts.jsonl"
    plain.write_text("Paris is a city.\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    marked = tmp_path / "marked.txt"
    marked.write_bytes('\ufeff{"text": "Paris"}\n'.encode())
    assert sniff_jsonl(jsonl) and sniff_jsonl(marked)
    assert not sniff_jsonl(plain) and not sniff_jsonl(empty)


def test_the_texts_reader_and_the_format_detector_agree_with_the_sniff(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_bytes('\ufeff\n{"text": "Paris", "id": 7}\n'.encode())
    assert sniff_jsonl(path)
    assert detect_format(path) == "jsonl"
    assert list(read_texts(path)) == [("Paris", {"id": 7, "source": f"{path}:2"})]


def test_the_io_package_keeps_only_helpers_that_are_used():
    import elkit.io

    assert elkit.io.__all__ == ["MANIFEST_NAME", "pack_files", "read_manifest", "unpack_files", "write_manifest"]
    assert not hasattr(elkit.io, "to_disk") and not hasattr(elkit.io, "from_disk")
