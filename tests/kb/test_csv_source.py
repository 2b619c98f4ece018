"""Entities from a headerless ``id,name,description`` CSV: the reader and ``elkit kb build --csv``."""

import pytest

from elkit.cli import main
from elkit.errors import FormatError
from elkit.io.lines import ReadReport
from elkit.kb import open_kb
from elkit.kb.csv_source import read_entities_csv

# Made-up entities in the three-column layout (quoted, as spaCy's tutorial writes them, and plain).
GOOD = '''"Q501","Ada Byron","English mathematician, writer"
"Q502","Ada Cobb","fictional ""test"" pilot"

Q503,Ada Rock,mountain in a made-up country
'''


def write(tmp_path, text, name="entities.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_quoted_and_plain_rows_with_their_lines(tmp_path):
    records = list(read_entities_csv(write(tmp_path, GOOD)))
    assert [record.entity.entity_id for record in records] == ["Q501", "Q502", "Q503"]
    assert [record.line for record in records] == [1, 2, 4]
    first = records[0]
    assert first.entity.name == "Ada Byron" and first.entity.description == "English mathematician, writer"
    assert first.aliases == ("Ada Byron",)
    assert records[1].entity.description == 'fictional "test" pilot'


@pytest.mark.parametrize(("line", "message"), [
    ('"Q504","Ada Lake"', r"entities.csv:2: expected 3 columns \(id, name, description\), got 2"),
    ('"Q504","Ada Lake","a lake","extra"', r"entities.csv:2: expected 3 columns .* got 4"),
    ('"","Ada Lake","a lake"', r"entities.csv:2 \[id\]: empty entity id"),
    ('"Q501","Ada Again","another"', r"entities.csv:2 \[id\]: duplicate entity id 'Q501' \(first on line 1\)"),
    ('"Q504,"Ada Lake",x', r"entities.csv:2: not a valid CSV line"),
])
def test_bad_lines_name_the_file_line_and_column(tmp_path, line, message):
    path = write(tmp_path, '"Q501","Ada Byron","English mathematician"\n' + line + "\n")
    with pytest.raises(FormatError, match=message):
        list(read_entities_csv(path))


def test_lenient_reading_skips_and_counts_bad_lines(tmp_path):
    path = write(tmp_path, 'Q501,Ada Byron,x\nQ501,Ada Byron,x\nQ502,two columns\nQ503,Ada Rock,y\n')
    report = ReadReport()
    records = list(read_entities_csv(path, on_error="skip", report=report))
    assert [record.entity.entity_id for record in records] == ["Q501", "Q503"]
    assert report.skipped_count == 2 and report.skipped[0].line == 2


def test_kb_build_with_csv(tmp_path, capsys):
    entities = write(tmp_path, GOOD)
    assert main(["kb", "build", str(tmp_path / "kb"), "--csv", str(entities)]) == 0
    assert "3 entities" in capsys.readouterr().out
    kb = open_kb(tmp_path / "kb")
    assert kb.get_entity("Q502").name == "Ada Cobb"
    assert {candidate.entity_id for candidate in kb.get_candidates_batch(["Ada Rock"])[0]} == {"Q503"}
    bad = write(tmp_path, GOOD + '"Q501","Ada Byron","again"\n', name="bad.csv")
    assert main(["kb", "build", str(tmp_path / "bad-kb"), "--csv", str(bad)]) == 3
    assert "bad.csv:5 [id]: duplicate entity id 'Q501'" in capsys.readouterr().err
    assert not (tmp_path / "bad-kb").exists()
