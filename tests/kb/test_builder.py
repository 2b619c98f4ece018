"""KBBuilder with the source readers: priors from counts, priors and popularity, and bad input, strict and lenient."""

import json

import pytest

from elkit.errors import ElkitError, FormatError, KBError
from elkit.kb import Entity, KBBuilder, open_kb
from elkit.kb.sources import read_alias_table, read_entities_jsonl, read_synonyms
from tests.kb.support import ALIAS_TABLE, write_entities, write_text


def build(builder, tmp_path, entities=None, aliases=None, synonyms=None, prefix=""):
    """Feed the builder the given files through the readers (in its own error mode) and compile in memory."""
    mode, read_report = builder.on_error, builder.report.read
    if entities is not None:
        builder.add_records(read_entities_jsonl(entities, on_error=mode, report=read_report))
    if synonyms is not None:
        records = read_synonyms(synonyms, numeric_id_prefix=prefix, on_error=mode, report=read_report)
        builder.add_records(records)
    if aliases is not None:
        builder.add_alias_rows(read_alias_table(aliases, on_error=mode, report=read_report))
    return builder.build()


def priors(index, alias):
    return {candidate.entity_id: candidate.prior for candidate in index.exact(alias)}


def test_entities_jsonl_fields(tmp_path):
    index = build(KBBuilder(), tmp_path, entities=write_entities(tmp_path))
    paris = index.entity_at(index.entity_row("Q90"))
    assert paris == Entity(
        "Q90", "Paris", "capital of France", ("LOC",), 90.0, (), {"url": "https://www.wikidata.org/wiki/Q90"}
    )
    texas = index.entity_at(index.entity_row("Q830149"))
    assert texas.types == ("LOC", "GPE") and texas.attrs == {}
    assert index.entity_id_at(index.entity_row("enwiki:Ada_Lovelace")) == "Q7259"
    # The label and every listed alias become aliases.
    assert set(index.iter_aliases()) == {
        "Paris",
        "City of Light",
        "Ada Lovelace",
        "Augusta Ada King",
        "Universe",
        "cosmos",
    }


def test_aliases_without_weights_share_by_popularity(tmp_path):
    index = build(KBBuilder(), tmp_path, entities=write_entities(tmp_path))
    assert priors(index, "Paris") == pytest.approx({"Q90": 0.9, "Q830149": 0.1})
    assert [candidate.entity_id for candidate in index.exact("Paris")] == ["Q90", "Q830149"]
    assert priors(index, "cosmos") == {"Q1": 1.0}


def test_aliases_without_weights_or_popularity_share_equally(tmp_path):
    records = [{"entity_id": "A", "label": "Mercury"}, {"entity_id": "B", "label": "Mercury"}]
    index = build(KBBuilder(), tmp_path, entities=write_entities(tmp_path, records))
    assert priors(index, "Mercury") == pytest.approx({"A": 0.5, "B": 0.5})


def test_alias_table_counts_become_priors(tmp_path):
    index = build(
        KBBuilder(),
        tmp_path,
        entities=write_entities(tmp_path),
        aliases=write_text(tmp_path, "aliases.tsv", ALIAS_TABLE),
    )
    # Counts beat the popularity shares of the entities.jsonl names: 30 / 40 and 10 / 40.
    assert priors(index, "Paris") == pytest.approx({"Q90": 0.75, "Q830149": 0.25})
    assert priors(index, "Ada") == {"Q7259": 1.0}
    assert priors(index, "Lutetia") == {"Q90": 1.0}


def test_alias_table_with_a_prior_column(tmp_path):
    table = write_text(
        tmp_path, "aliases.csv", 'alias,entity_id,prior\nParis,Q90,0.6\nParis,Q830149,0.3\n"Ada, Countess",Q7259,0.9\n'
    )
    index = build(KBBuilder(), tmp_path, entities=write_entities(tmp_path), aliases=table)
    assert priors(index, "Paris") == pytest.approx({"Q90": 0.6, "Q830149": 0.3})
    assert priors(index, "Ada, Countess") == pytest.approx({"Q7259": 0.9})


def test_alias_table_other_column_names(tmp_path):
    table = write_text(
        tmp_path, "aliases.tsv", "kb_id\tmention\tfrequency\tnote\nQ90\tParee\t3\tx\nQ830149\tParee\t1\ty\n"
    )
    index = build(KBBuilder(), tmp_path, entities=write_entities(tmp_path), aliases=table)
    assert priors(index, "Paree") == pytest.approx({"Q90": 0.75, "Q830149": 0.25})


def test_alias_table_header_must_name_the_columns(tmp_path):
    table = write_text(tmp_path, "aliases.tsv", "surface form\tentity\nParis\tQ90\n")
    with pytest.raises(FormatError, match="the header must name an alias column") as error:
        list(read_alias_table(table))
    assert error.value.path == str(table) and error.value.line == 1


def test_synonym_vocabulary_with_numeric_ids(tmp_path):
    vocabulary = write_text(
        tmp_path,
        "medic.txt",
        "C567755|613097||Tooth Agenesis|STHAG6\nD000001||Calcimycin|A23187|Calcimycin\n",
    )
    index = build(KBBuilder(), tmp_path, synonyms=vocabulary, prefix="OMIM:")
    row = index.entity_row("OMIM:613097")
    assert row is not None and index.entity_id_at(row) == "C567755"
    assert index.entity_row("613097") is None
    entity = index.entity_at(row)
    assert entity.name == "Tooth Agenesis" and entity.other_ids == ("OMIM:613097",)
    assert priors(index, "STHAG6") == {"C567755": 1.0}
    assert priors(index, "Calcimycin") == {"D000001": 1.0}
    assert [candidate.entity_id for candidate in index.normalized("tooth agenesis")] == ["C567755"]


def test_python_add_alias_is_checked_like_spacy():
    builder = KBBuilder()
    builder.add_entity(Entity("A", "alpha"))
    builder.add_entity(Entity("B", "beta"))
    for entity_ids, prior_values, message in [
        (["A", "B"], [0.5], "2 entities but 1 priors"),
        (["A"], [1.2], "must be in \\[0, 1\\]"),
        (["A", "B"], [0.7, 0.7], "sum to 1.4"),
        (["Z"], [0.5], "unknown entity 'Z'"),
    ]:
        with pytest.raises(KBError, match=message):
            builder.add_alias("x", entity_ids, prior_values)
    with pytest.raises(KBError, match="non-empty"):
        builder.add_alias(" ", ["A"], [0.5])
    assert builder.row_count == 0
    # Two calls for one alias that together exceed 1 fail when the build sums them.
    builder.add_alias("x", ["A"], [0.7])
    builder.add_alias("x", ["B"], [0.7])
    with pytest.raises(KBError, match="priors of alias 'x' sum to 1.4"):
        builder.build()


def test_an_empty_builder_cannot_build():
    with pytest.raises(KBError, match="no entities"):
        KBBuilder().build()


# -- bad input: strict mode names file, line and field; lenient mode counts and goes on ---------------------

GOOD_ENTITY = json.dumps({"entity_id": "Q90", "label": "Paris", "popularity": 9})
OTHER_ENTITY = json.dumps({"entity_id": "Q2", "label": "Two"})


def unknown_entity(tmp_path):
    table = write_text(tmp_path, "aliases.tsv", "alias\tentity_id\tcount\nParis\tQ90\t3\nNowhere\tQ404\t1\n")
    return {"aliases": table}, str(table), 3, "entity_id", "unknown entity 'Q404'"


def priors_above_one(tmp_path):
    table = write_text(tmp_path, "aliases.tsv", "alias\tentity_id\tprior\nParis\tQ90\t0.8\nParis\tQ2\t0.5\n")
    return {"aliases": table}, str(table), 2, "prior", "priors of alias 'Paris' sum to 1.3"


def empty_alias(tmp_path):
    table = write_text(tmp_path, "aliases.tsv", "alias\tentity_id\tcount\nParis\tQ90\t3\n  \tQ2\t1\n")
    return {"aliases": table}, str(table), 3, "alias", "empty alias"


def conflicting_entity(tmp_path):
    changed = json.dumps({"entity_id": "Q90", "label": "Paris, Texas", "popularity": 9})
    entities = write_text(tmp_path, "entities.jsonl", f"{GOOD_ENTITY}\n{OTHER_ENTITY}\n{changed}\n")
    return {"entities": entities}, str(entities), 3, "entity_id", "'Q90' is already defined with different data"


def conflicting_alias_row(tmp_path):
    table = write_text(tmp_path, "aliases.tsv", "alias\tentity_id\tcount\nParis\tQ90\t3\nTwo\tQ2\t1\nParis\tQ90\t5\n")
    return {"aliases": table}, str(table), 4, "count", "'Paris' → 'Q90' has count 5 here but 3 at"


def not_utf8(tmp_path):
    entities = tmp_path / "entities.jsonl"
    entities.write_bytes(
        f"{GOOD_ENTITY}\n".encode() + b'{"entity_id": "Q3", "label": "Caf\xe9"}\n' + OTHER_ENTITY.encode()
    )
    return {"entities": entities}, str(entities), 2, None, "not valid UTF-8: byte 0xe9"


def not_utf8_alias_table(tmp_path):
    table = tmp_path / "aliases.tsv"
    table.write_bytes(b"alias\tentity_id\tcount\nParis\tQ90\t3\nCaf\xe9\tQ2\t1\n")
    return {"aliases": table}, str(table), 3, None, "not valid UTF-8"


def malformed_json(tmp_path):
    entities = write_text(tmp_path, "entities.jsonl", f'{GOOD_ENTITY}\n{{"entity_id": "Q3",\n{OTHER_ENTITY}\n')
    return {"entities": entities}, str(entities), 2, None, "not valid JSON"


def bad_popularity(tmp_path):
    negative = json.dumps({"entity_id": "Q3", "label": "Three", "popularity": -4})
    entities = write_text(tmp_path, "entities.jsonl", f"{GOOD_ENTITY}\n{OTHER_ENTITY}\n{negative}\n")
    return {"entities": entities}, str(entities), 3, "popularity", "must be >= 0"


def synonyms_without_separator(tmp_path):
    vocabulary = write_text(tmp_path, "synonyms.txt", "S1||Sun|Sol\nS2|Moon|Luna\nS3||Star\n")
    return {"synonyms": vocabulary}, str(vocabulary), 2, None, "no '||' found"


BAD_INPUTS = [
    unknown_entity,
    priors_above_one,
    empty_alias,
    conflicting_entity,
    conflicting_alias_row,
    not_utf8,
    not_utf8_alias_table,
    malformed_json,
    bad_popularity,
    synonyms_without_separator,
]


def default_sources(tmp_path, files):
    """The bad file plus good files for whatever it does not replace."""
    sources = dict(files)
    if "entities" not in sources and "synonyms" not in sources:
        sources["entities"] = write_text(tmp_path, "good.jsonl", f"{GOOD_ENTITY}\n{OTHER_ENTITY}\n")
    return sources


@pytest.mark.parametrize("make_bad_input", BAD_INPUTS)
def test_strict_build_stops_at_the_bad_record(tmp_path, make_bad_input):
    files, path, line, field_name, message = make_bad_input(tmp_path)
    with pytest.raises(ElkitError, match=message) as error:
        build(KBBuilder(on_error="raise"), tmp_path, **default_sources(tmp_path, files))
    assert isinstance(error.value, FormatError), "a problem in a file must be located"
    assert (error.value.path, error.value.line, error.value.field) == (path, line, field_name)
    assert str(error.value).startswith(f"{path}:{line}")


@pytest.mark.parametrize("make_bad_input", BAD_INPUTS)
def test_lenient_build_counts_the_bad_record_and_succeeds(tmp_path, make_bad_input):
    files, path, line, _, message = make_bad_input(tmp_path)
    builder = KBBuilder(on_error="skip")
    index = build(builder, tmp_path, **default_sources(tmp_path, files))
    report = builder.report
    located = [str(error) for error in report.read.skipped] + [
        example for examples in report.examples.values() for example in examples
    ]
    problems = report.read.skipped_count + sum(
        count for kind, count in report.counts.items() if "identical" not in kind
    )
    assert problems == 1, report.lines()
    assert any(example.startswith(f"{path}:{line}") and message.split(" here")[0] in example for example in located)
    assert any(message.split(" here")[0] in line_text for line_text in report.lines())
    assert index.entity_count >= 2
    assert index.exact("Paris") or index.exact("Sun")


def test_lenient_keeps_the_first_version_and_scales_priors(tmp_path):
    entities = write_text(
        tmp_path,
        "entities.jsonl",
        f"{GOOD_ENTITY}\n{OTHER_ENTITY}\n{json.dumps({'entity_id': 'Q90', 'label': 'Changed'})}\n",
    )
    table = write_text(
        tmp_path,
        "aliases.tsv",
        "alias\tentity_id\tprior\nParis\tQ90\t0.9\nParis\tQ2\t0.6\nTwo\tQ2\t0.5\nTwo\tQ2\t0.7\n",
    )
    builder = KBBuilder(on_error="skip")
    index = build(builder, tmp_path, entities=entities, aliases=table)
    assert index.entity_at(index.entity_row("Q90")).name == "Paris"
    assert priors(index, "Paris") == pytest.approx({"Q90": 0.6, "Q2": 0.4})  # 0.9 and 0.6 scaled by 1.5
    assert priors(index, "Two") == pytest.approx({"Q2": 0.5})  # the first row of a conflicting pair wins
    assert builder.report.counts == {
        "conflicting entity": 1,
        "conflicting alias row": 1,
        "priors sum above 1 (scaled down)": 1,
    }


def test_identical_duplicates_are_reported_not_errors(tmp_path):
    entities = write_text(tmp_path, "entities.jsonl", f"{GOOD_ENTITY}\n{OTHER_ENTITY}\n{GOOD_ENTITY}\n")
    table = write_text(tmp_path, "aliases.tsv", "alias\tentity_id\tcount\nTwo\tQ2\t4\nTwo\tQ2\t4\n")
    builder = KBBuilder(on_error="raise")
    index = build(builder, tmp_path, entities=entities, aliases=table)
    assert index.entity_count == 2
    assert priors(index, "Two") == {"Q2": 1.0}
    assert builder.report.counts == {
        "duplicate entity (identical, kept once)": 1,
        "duplicate alias row (identical, kept once)": 1,
    }
    assert builder.report.examples["duplicate alias row (identical, kept once)"] == [
        f"{table}:3: 'Two' → 'Q2' repeats {table}:2"
    ]


def test_the_build_report_is_stored_in_the_manifest(tmp_path):
    table = write_text(tmp_path, "aliases.tsv", "alias\tentity_id\tcount\nParis\tQ90\t3\nNowhere\tQ404\t1\n")
    entities = write_entities(tmp_path)
    builder = KBBuilder(on_error="skip")
    builder.add_records(read_entities_jsonl(entities))
    builder.add_alias_rows(read_alias_table(table))
    index = builder.build(tmp_path / "kb")
    assert index.manifest["build"]["report"]["counts"] == {"unknown entity": 1}
    assert index.manifest["build"]["sources"] == [str(entities), str(table)]


def test_a_primary_id_that_was_an_other_id_takes_it_over(tmp_path):
    builder = KBBuilder(on_error="raise")  # a vocabulary's own structure, not an error: it builds strictly
    builder.add_entity(Entity("A", "Alpha", other_ids=("B", "C")), path="vocab.txt", line=3)
    assert builder.add_entity(Entity("B", "Beta"), path="vocab.txt", line=9)
    builder.build(tmp_path / "kb")
    kb = open_kb(tmp_path / "kb")
    assert kb.get_entity("A").other_ids == ("C",) and kb.resolve("B") == "B" and kb.resolve("C") == "A"
    (message,) = builder.report.examples["other id that is also an entity's own id (the entity keeps it)"]
    assert "vocab.txt:9" in message and "vocab.txt:3" in message


def test_an_other_id_that_names_an_entity_stays_with_it(tmp_path):
    """MEDIC lists OMIM:260350 as a concept and as an other id of D010190: both are kept, strictly."""
    builder = KBBuilder(on_error="raise")
    builder.add_entity(Entity("OMIM:260350", "Pancreatic cancer"), path="medic.txt", line=728)
    assert builder.add_entity(Entity("D010190", "Pancreatic Neoplasms", other_ids=("OMIM:260350", "X1")),
                              aliases=["Cancer of Pancreas"], path="medic.txt", line=5006)
    builder.add_entity(Entity("D2", "Other", other_ids=("X1",)), path="medic.txt", line=6000)
    builder.build(tmp_path / "kb")
    kb = open_kb(tmp_path / "kb")
    assert kb.get_entity("D010190").other_ids == ("X1",)
    assert kb.resolve("OMIM:260350") == "OMIM:260350" and kb.resolve("X1") == "D010190"
    assert builder.report.counts == {"other id that is also an entity's own id (the entity keeps it)": 1,
                                     "other id shared by two entities (the first keeps it)": 1}
    (message,) = builder.report.examples["other id that is also an entity's own id (the entity keeps it)"]
    assert "medic.txt:5006" in message and "medic.txt:728" in message
