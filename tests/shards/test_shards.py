"""Sharded runs: finding and reading shards, atomic outputs, resuming, failures reported, local and Ray alike."""

import gzip
import json
from pathlib import Path

import pytest

from elkit.cli.main import main
from elkit.errors import ConfigError, FormatError
from elkit.shards import (
    ShardJob,
    find_shards,
    output_path,
    read_shard,
    remove_partial,
    run_shards,
    write_atomically,
)
from tests.linking.test_builder_cli import ENTITIES

TEXTS = ["Ada Lovelace met Paris Hilton in Paris, Texas.", "Nothing to see here.", "Hilton stayed in Paris, France."]


@pytest.fixture(scope="module")
def entities_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("kb") / "entities.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in ENTITIES), encoding="utf-8")
    return path


def write_shards(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        lines = "".join(json.dumps({"text": text, "id": f"{number}-{index}"}) + "\n"
                        for index, text in enumerate(TEXTS))
        if number == count - 1:
            with gzip.open(folder / f"part-{number}.jsonl.gz", "wt", encoding="utf-8") as stream:
                stream.write(lines)
        else:
            (folder / f"part-{number}.jsonl").write_text(lines, encoding="utf-8")
    return folder


def records(folder: Path) -> dict[str, list[dict]]:
    return {path.name: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            for path in sorted(folder.glob("*.jsonl"))}


def test_find_shards_in_folders_globs_and_files(tmp_path):
    folder = write_shards(tmp_path / "in")
    (folder / "notes.md").write_text("not a shard", encoding="utf-8")
    found = find_shards(folder)
    assert [path.name for path in found] == ["part-0.jsonl", "part-1.jsonl", "part-2.jsonl.gz"]
    assert find_shards(f"{folder}/*.jsonl") == found[:2]
    assert find_shards(found[0]) == [found[0]]
    assert output_path(found[2], tmp_path / "out") == tmp_path / "out" / "part-2.jsonl"
    with pytest.raises(ConfigError, match="no input shards"):
        find_shards(tmp_path / "missing-*.jsonl")
    (folder / "part-0.txt").write_text("a text\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="would both write part-0.jsonl"):
        find_shards(folder)


def test_read_gzip_and_parquet_shards(tmp_path):
    folder = write_shards(tmp_path / "in")
    texts = [text for text, _ in read_shard(folder / "part-2.jsonl.gz", max_length=1000)]
    assert texts == TEXTS
    parquet = pytest.importorskip("pyarrow.parquet")
    import datetime

    import pyarrow

    day = datetime.date(2026, 12, 3)
    table = pyarrow.table({"text": TEXTS, "id": [1, 2, 3], "day": [day] * 3})
    parquet.write_table(table, tmp_path / "rows.parquet")
    pairs = list(read_shard(tmp_path / "rows.parquet", max_length=1000))
    assert [text for text, _ in pairs] == TEXTS
    assert pairs[1][1] == {"id": 2, "day": "2026-12-03", "source": f"{tmp_path / 'rows.parquet'}:2"}
    parquet.write_table(pyarrow.table({"body": TEXTS}), tmp_path / "bad.parquet")
    with pytest.raises(FormatError, match="no 'text' column"):
        list(read_shard(tmp_path / "bad.parquet", max_length=1000))
    parquet.write_table(pyarrow.table({"text": ["fine", ""]}), tmp_path / "empty.parquet")
    with pytest.raises(FormatError, match="empty") as error:
        list(read_shard(tmp_path / "empty.parquet", max_length=1000))
    assert error.value.line == 2 and error.value.field == "text"


def test_a_damaged_gzip_shard_is_a_format_error(tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "a"}\n' * 100)[:-20])
    with pytest.raises(FormatError, match="damaged"):
        list(read_shard(path, max_length=1000))


def test_write_atomically_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out" / "part.jsonl"
    assert write_atomically(target, ["{}", "{}"]) == 2

    def failing():
        yield "{}"
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError):
        write_atomically(target, failing())
    assert target.read_text(encoding="utf-8") == "{}\n{}\n"
    assert [path.name for path in target.parent.iterdir()] == ["part.jsonl"]
    (target.parent / ".elkit-partial-abc-part.jsonl").write_text("half", encoding="utf-8")
    assert remove_partial(target.parent) == 1


def test_local_run_resumes_and_reports_failed_shards(tmp_path, entities_file):
    folder = write_shards(tmp_path / "in")
    job = ShardJob(mode="link", entities=entities_file, cache_dir=tmp_path / "cache", threads=1)
    nlp = job.load()
    first = run_shards(job, folder, tmp_path / "out", nlp=nlp)
    assert first.done == 3 and not first.failed and first.total("documents") == 9
    written = records(tmp_path / "out")
    assert [record["meta"]["id"] for record in written["part-1.jsonl"]] == ["1-0", "1-1", "1-2"]
    assert written["part-0.jsonl"][0]["spans"][0]["kb_id"] == "Q7259"
    (tmp_path / "out" / "part-1.jsonl").unlink()
    (folder / "part-3.jsonl").write_text('{"text": "fine"}\n{"no text": 1}\n', encoding="utf-8")
    seen = []
    second = run_shards(job, folder, tmp_path / "out", nlp=nlp, retries=1, on_shard=seen.append)
    assert second.existing == 2 and second.done == 1
    assert [summary.shard for summary in seen] == [str(folder / "part-1.jsonl"), str(folder / "part-3.jsonl")]
    (failed,) = second.failed
    assert failed.shard == str(folder / "part-3.jsonl") and failed.attempts == 2 and "text" in failed.error
    assert not (tmp_path / "out" / "part-3.jsonl").exists()
    assert records(tmp_path / "out")["part-1.jsonl"] == written["part-1.jsonl"]


def test_cli_sharded_apply_and_failures(tmp_path, capsys):
    from tests.annotate.support import trained_pipeline

    trained_pipeline(tmp_path / "model", steps=15)
    folder = write_shards(tmp_path / "in")
    code = main(["apply", str(tmp_path / "model"), str(folder), str(tmp_path / "out"), "--threads", "1"])
    assert code == 0
    assert sorted(records(tmp_path / "out")) == ["part-0.jsonl", "part-1.jsonl", "part-2.jsonl"]
    assert "apply: 3 shards into" in capsys.readouterr().out
    (folder / "part-9.jsonl").write_text("{broken\n", encoding="utf-8")
    code = main(["apply", str(tmp_path / "model"), f"{folder}/*.jsonl", str(tmp_path / "out"), "--retries", "0"])
    assert code == 1
    assert "part-9.jsonl" in capsys.readouterr().err


def test_ray_links_three_shards_like_one_process_and_resumes(tmp_path, entities_file):
    pytest.importorskip("ray")
    folder = write_shards(tmp_path / "in")
    job = ShardJob(mode="link", entities=entities_file, cache_dir=tmp_path / "cache", threads=1)
    local = run_shards(job, folder, tmp_path / "local")
    assert local.done == 3
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "part-0.jsonl").write_text(
        (tmp_path / "local" / "part-0.jsonl").read_text(encoding="utf-8"), encoding="utf-8")  # an earlier run's
    run = run_shards(job, folder, tmp_path / "ray", engine="ray", workers=2)
    assert run.existing == 1 and run.done == 2 and not run.failed
    assert records(tmp_path / "ray") == records(tmp_path / "local")


def test_the_ray_engine_without_ray_names_the_extra(monkeypatch, tmp_path, entities_file):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    job = ShardJob(mode="link", entities=entities_file, cache_dir=tmp_path / "cache")
    with pytest.raises(ConfigError, match=r"pip install 'elkit\[ray\]'"):
        run_shards(job, write_shards(tmp_path / "in"), tmp_path / "out", engine="ray")


def test_jobs_are_checked():
    with pytest.raises(ValueError, match="apply needs a model"):
        ShardJob(mode="apply")
    with pytest.raises(ValueError, match="a knowledge base"):
        ShardJob(mode="link")
