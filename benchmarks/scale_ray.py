"""Linking a sharded corpus on a local Ray cluster: same output as one process, speed-up, a killed worker, a resume.

The corpus is the raw text of AIDA testa documents cut into --shards JSONL shards (half of them gzip-compressed).
The job is `elkit link` with the ready pipeline over the AIDA KB (zero-shot recognizer, KB alias mentions,
general linker), one torch thread per worker. In one run:

1. the local engine (one process, one thread) writes the reference output;
2. Ray with 1 worker and with 2 workers (a local cluster of that many CPUs; each worker builds the pipeline once):
   the outputs must equal the reference byte for byte; the speed-up is the 1-worker time over the 2-worker time,
   start-up included;
3. Ray with 2 workers, one worker process killed (SIGKILL, by pid) once two shards are written: Ray restarts it and
   reruns its shard; every document must be in the output exactly once;
4. `elkit link --engine ray` as a command, killed (SIGKILL to its process group, as in a crash) once a few shards
   are written, then run again: the rerun must skip the written shards and the result must equal the reference.

    .venv/bin/python benchmarks/scale_ray.py [--shards 24] [--docs-per-shard 4]

Last lines: ray_identical_output, ray_speedup_2_workers, ray_worker_kill_lost_documents (also
ray_worker_kill_duplicated_documents and ray_resume_identical_output).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from elkit.corpora.aida import read_aida
from elkit.shards import ShardJob, run_shards
from link_aida import build_kb

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "aida"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_corpus(folder: Path, shards: int, per_shard: int) -> int:
    """AIDA testa texts as `shards` shards of `per_shard` documents; returns the number of documents."""
    docs = list(read_aida(DATA / "aida_testa.tsv"))[: shards * per_shard]
    if len(docs) < shards * per_shard:
        raise SystemExit(f"testa has {len(docs)} documents; {shards} x {per_shard} asked")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for number in range(shards):
        lines = "".join(json.dumps({"text": doc.text, "id": f"{number:03d}-{index}"}) + "\n"
                        for index, doc in enumerate(docs[number * per_shard: (number + 1) * per_shard]))
        if number % 2:
            with gzip.open(folder / f"part-{number:03d}.jsonl.gz", "wt", encoding="utf-8") as stream:
                stream.write(lines)
        else:
            (folder / f"part-{number:03d}.jsonl").write_text(lines, encoding="utf-8")
    return len(docs)


def outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.jsonl"))}


def document_ids(folder: Path) -> list[str]:
    return [json.loads(line)["meta"]["id"] for path in sorted(folder.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def worker_pids() -> list[int]:
    """Pids of the Ray Data workers running the shard job."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = " ".join(process.info.get("cmdline") or [])
        if "MapWorker" in command and "ShardWorker" in command:
            found.append(process.info["pid"])
    return found


def kill_a_worker_when(folder: Path, written: int, report: dict[str, int]) -> threading.Thread:
    """A thread that SIGKILLs one shard worker once `written` outputs exist in `folder`."""

    def watch() -> None:
        deadline = time.time() + 900
        while time.time() < deadline:
            if len(list(folder.glob("*.jsonl"))) >= written:
                pids = worker_pids()
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    report["killed"] = pids[0]
                    return
            time.sleep(0.2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=24)
    parser.add_argument("--docs-per-shard", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path("/tmp/elkit-bench/scale_ray"))
    parser.add_argument("--kb-cache", type=Path, default=Path("/tmp/elkit-bench/link_aida/kb-aliases_ppr"))
    args = parser.parse_args()
    kb = build_kb(DATA / "kb" / "entities.jsonl", DATA / "kb" / "aliases_ppr.tsv", args.kb_cache)
    log(f"KB: {kb.entity_count:,} entities")
    corpus = args.work / "input"
    documents = write_corpus(corpus, args.shards, args.docs_per_shard)
    job = ShardJob(mode="link", kb=str(args.kb_cache), cache_dir=str(args.work / "cache"), threads=1)
    seconds: dict[str, float] = {}

    def run(name: str, engine: str, workers: int = 1) -> Path:
        output = args.work / name
        if output.exists():
            shutil.rmtree(output)
        started = time.perf_counter()
        summary = run_shards(job, corpus, output, engine=engine, workers=workers)  # type: ignore[arg-type]
        seconds[name] = time.perf_counter() - started
        log(f"{name}: {summary.done} shards, {summary.total('documents')} documents, {summary.total('mentions')} "
            f"mentions, {len(summary.failed)} failed, {seconds[name]:.1f} s")
        return output

    reference = outputs(run("local", "local"))
    one = outputs(run("ray-1", "ray", 1))
    two = outputs(run("ray-2", "ray", 2))
    identical = one == reference and two == reference

    killed: dict[str, int] = {}
    watcher = kill_a_worker_when(args.work / "ray-kill", 2, killed)
    kill_output = run("ray-kill", "ray", 2)
    watcher.join(timeout=1)
    ids = document_ids(kill_output)
    lost = documents - len(set(ids))
    duplicated = len(ids) - len(set(ids))
    kill_identical = outputs(kill_output) == reference

    resumed = args.work / "ray-resume"
    if resumed.exists():
        shutil.rmtree(resumed)
    command = [str(Path(sys.executable).parent / "elkit"), "link", str(corpus), "--output", str(resumed),
               "--kb", str(args.kb_cache), "--engine", "ray", "--workers", "2", "--threads", "1",
               "--cache-dir", str(args.work / "cache")]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while first.poll() is None and len(list(resumed.glob("*.jsonl"))) < 4:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # a crash: the command and the Ray processes it started, all at once
    first.wait()
    time.sleep(15)  # Ray's own processes go once their driver is gone
    written_before = len(list(resumed.glob("*.jsonl")))
    second = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    resume_identical = second.returncode == 0 and outputs(resumed) == reference

    print(f"\n{args.shards} shards, {documents} AIDA testa documents, ready pipeline over the AIDA KB, "
          "1 thread a worker")
    print(f"{'run':<26} {'seconds':>8} {'docs/s':>8}")
    for name, label in (("local", "local engine, 1 process"), ("ray-1", "Ray, 1 worker"),
                        ("ray-2", "Ray, 2 workers"), ("ray-kill", "Ray, 2 workers, 1 killed")):
        print(f"{label:<26} {seconds[name]:>8.1f} {documents / seconds[name]:>8.2f}")
    print(f"worker killed: pid {killed.get('killed', 'none')}; output equal to the reference: {kill_identical}")
    print(f"killed command: {written_before} of {args.shards} shards written before SIGKILL; rerun exit "
          f"{second.returncode}, output equal to the reference: {resume_identical}")
    print(f"ray_resume_identical_output: {str(resume_identical).lower()}")
    print(f"ray_worker_kill_duplicated_documents: {duplicated}")
    print(f"ray_identical_output: {str(identical).lower()}")
    print(f"ray_speedup_2_workers: {seconds['ray-1'] / seconds['ray-2']:.2f}")
    print(f"ray_worker_kill_lost_documents: {lost if killed else 'no worker was killed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
