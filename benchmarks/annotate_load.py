"""The annotation server under load: 20 sessions answering at once for 60 s, on SQLite and on PostgreSQL.

Each database gets a real `elkit annotate ner.manual` server process (a fresh SQLite file; a fresh schema on the
PostgreSQL server at 127.0.0.1:5432). The load is one asyncio client process with 20 sessions; each session
fetches 10 tasks, answers them one by one (an ORG span on a token of the text), then fetches again, pausing
between answers for a random 0.5–1.5 × --think-ms (0: as fast as the server answers; the sessions start at
random times within one think time, as annotators do not work in step). Afterwards the database is read back:

- lost: acknowledged answers (HTTP 200) not in the database;
- duplicates: (session, task) pairs stored more than once;
- errors: requests that did not get a 200.

Texts: sentences of CoNLL-2003 train when ../shared/data is there, else generated ones (the texts hardly matter:
the server's work per answer is checking the spans against the tokens and committing one row).

    .venv/bin/python benchmarks/annotate_load.py [--seconds 60] [--sessions 20] [--think-ms 0]
        [--databases sqlite,postgres]

Last lines: annotate_save_p99_ms_sqlite, annotate_save_p99_ms_postgres, annotate_lost_answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CONLL = ROOT.parent / "shared" / "data" / "conll2003" / "train.txt"
POSTGRES = os.environ.get("ELKIT_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
sys.path.insert(0, str(ROOT / "src"))


def texts(count: int) -> list[str]:
    """Sentences of CoNLL-2003 train (at least 5 words), or generated ones without ../shared."""
    found: list[str] = []
    if CONLL.exists():
        words: list[str] = []
        for line in CONLL.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("-DOCSTART-"):
                words.append(line.split()[0])
            elif words:
                if len(words) >= 5:
                    found.append(" ".join(words))
                words = []
            if len(found) >= count:
                break
    while len(found) < count:
        number = len(found)
        found.append(f"Report {number}: Apple and Siemens met officials in Paris and Berlin on day {number % 31}.")
    return found[:count]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_schema() -> tuple[str, str]:
    """A fresh schema on the PostgreSQL server and the URL that uses it."""
    from sqlalchemy import create_engine, text

    schema = f"elkit_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return schema, f"{POSTGRES}?options=-csearch_path%3D{schema}"


def drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def start_server(source: Path, database: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(folder / f"server-{port}.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([sys.executable, "-m", "elkit", "annotate", "ner.manual", "load", str(source),
                                "--label", "ORG", "--db", database, "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ELKIT_HOME": str(folder)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((folder / f"server-{port}.log").read_text(encoding="utf-8"))
        try:
            if httpx.get(url + "/api/config", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


async def annotator(client: httpx.AsyncClient, session: str, until: float, think: float,
                    record: dict[str, list]) -> None:
    pace = random.Random(session)  # annotators do not work in step: random start and pauses around the mean
    await asyncio.sleep(pace.uniform(0, think))
    while time.perf_counter() < until:
        started = time.perf_counter()
        response = await client.post("/api/tasks", json={"session": session, "count": 10})
        record["fetch"].append(time.perf_counter() - started)
        if response.status_code != 200:
            record["errors"].append(response.status_code)
            continue
        tasks = response.json()["tasks"]
        if not tasks:
            return
        for task in tasks:
            if time.perf_counter() >= until:
                return
            token = task["tokens"][len(task["tokens"]) // 2]
            body = {"session": session, "answers": [{"task_hash": task["_task_hash"], "answer": "accept",
                                                     "spans": [{"start": token["start"], "end": token["end"],
                                                                "label": "ORG"}]}]}
            started = time.perf_counter()
            response = await client.post("/api/answers", json=body)
            record["save"].append(time.perf_counter() - started)
            if response.status_code == 200:
                record["acknowledged"].append((session, task["_task_hash"]))
            else:
                record["errors"].append(response.status_code)
            if think:
                await asyncio.sleep(pace.uniform(0.5 * think, 1.5 * think))


async def drive(url: str, sessions: int, seconds: float, think: float) -> dict[str, list]:
    record: dict[str, list] = {"fetch": [], "save": [], "acknowledged": [], "errors": []}
    limits = httpx.Limits(max_connections=sessions, max_keepalive_connections=sessions)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        until = time.perf_counter() + seconds
        await asyncio.gather(*(annotator(client, f"annotator{number}", until, think, record)
                               for number in range(sessions)))
    return record


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def churn(source: Path, folder: Path, sessions: int) -> tuple[float, float]:
    """Server RSS (MiB) after one session, and after ``sessions`` more that each fetched a batch and left."""
    process, url = start_server(source, f"sqlite:///{folder / 'churn.sqlite'}", folder)
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            client.post("/api/tasks", json={"session": "first", "count": 10}).raise_for_status()
            before = resident_mib(process.pid)
            for number in range(sessions):
                client.post("/api/tasks", json={"session": f"visitor{number}", "count": 10}).raise_for_status()
            after = resident_mib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    return before, after


def percentile(values: list[float], share: int) -> float:
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[share - 1] * 1000


def run(kind: str, source: Path, folder: Path, arguments: argparse.Namespace) -> dict[str, float]:
    from elkit.annotate import Store

    schema = None
    if kind == "sqlite":
        database = f"sqlite:///{folder / 'load.sqlite'}"
    else:
        schema, database = postgres_schema()
    process, url = start_server(source, database, folder)
    try:
        started = time.perf_counter()
        record = asyncio.run(drive(url, arguments.sessions, arguments.seconds, arguments.think_ms / 1000))
        elapsed = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    try:
        stored = Store(database).answers("load")
        pairs = Counter((task["_session_id"], task["_task_hash"]) for task in stored)
        lost = len(set(record["acknowledged"]) - set(pairs))
        duplicates = sum(count - 1 for count in pairs.values() if count > 1)
    finally:
        if schema is not None:
            drop_schema(schema)
    return {"answers": len(record["acknowledged"]), "answers_per_second": len(record["acknowledged"]) / elapsed,
            "save_p50": percentile(record["save"], 50), "save_p99": percentile(record["save"], 99),
            "fetch_p50": percentile(record["fetch"], 50), "fetch_p99": percentile(record["fetch"], 99),
            "lost": lost, "duplicates": duplicates, "errors": len(record["errors"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause between a session's answers")
    parser.add_argument("--texts", type=int, default=20_000, help="texts in the source (enough for the run)")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--churn", type=int, default=2390, help="one-off sessions for the memory check (0: skip)")
    arguments = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    memory: tuple[float, float] | None = None
    with tempfile.TemporaryDirectory(prefix="elkit-load-") as name:
        folder = Path(name)
        source = folder / "texts.jsonl"
        source.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts(arguments.texts)),
                          encoding="utf-8")
        for kind in [name for name in arguments.databases.split(",") if name]:
            print(f"{kind}: {arguments.sessions} sessions for {arguments.seconds:.0f} s "
                  f"(think {arguments.think_ms:.0f} ms)…", flush=True)
            results[kind] = run(kind, source, folder, arguments)
        if arguments.churn:
            print(f"sqlite: {arguments.churn:,} one-off sessions…", flush=True)
            memory = churn(source, folder, arguments.churn)
    print(f"{'database':<10} {'answers':>8} {'ans/s':>7} {'save p50':>9} {'save p99':>9} {'fetch p50':>10} "
          f"{'fetch p99':>10} {'lost':>5} {'dup':>4} {'errors':>6}")
    for kind, result in results.items():
        print(f"{kind:<10} {result['answers']:>8,} {result['answers_per_second']:>7.1f} {result['save_p50']:>8.1f}ms "
              f"{result['save_p99']:>8.1f}ms {result['fetch_p50']:>9.1f}ms {result['fetch_p99']:>9.1f}ms "
              f"{result['lost']:>5} {result['duplicates']:>4} {result['errors']:>6}")
    if "sqlite" in results and "postgres" in results:
        ratio = results["postgres"]["save_p99"] / results["sqlite"]["save_p99"]
        print(f"postgres_vs_sqlite_save_p99_ratio: {ratio:.2f}")
    if memory is not None:
        print(f"server RSS: {memory[0]:.0f} MiB after one session, {memory[1]:.0f} MiB after {arguments.churn:,} more")
        print(f"annotate_rss_growth_mib_{arguments.churn}_sessions: {memory[1] - memory[0]:.0f}")
    print(f"annotate_errors: {sum(int(result['errors']) for result in results.values())}")
    print(f"annotate_duplicates: {sum(int(result['duplicates']) for result in results.values())}")
    for kind, result in results.items():
        print(f"annotate_save_p99_ms_{kind}: {result['save_p99']:.1f}")
    print(f"annotate_lost_answers: {sum(int(result['lost']) for result in results.values())}")


if __name__ == "__main__":
    main()
