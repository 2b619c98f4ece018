"""Fixtures for the annotation tests: sources, a tiny trained NER pipeline, a small KB, a real server process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from elkit.pipeline import Pipeline
from tests.ner.support import make_docs

TEXTS = [
    "Apple opened a store in Paris.\nTim Cook spoke there.",
    "Angela Merkel met Emmanuel Macron in Berlin.",
    "Google and Microsoft compete.",
    "Ada Lovelace wrote about the Analytical Engine.",
    "Paris is the capital of France.",
]

ENTITIES = [
    {"entity_id": "Q90", "label": "Paris", "description": "capital and largest city of France", "entity_type": "LOC",
     "aliases": ["Paris, France"], "popularity": 0.9},
    {"entity_id": "Q830149", "label": "Paris", "description": "city in Lamar County, Texas", "entity_type": "LOC",
     "aliases": ["Paris, Texas"], "popularity": 0.3},
    {"entity_id": "Q7259", "label": "Ada Lovelace", "description": "English mathematician <b>&</b> writer",
     "entity_type": "PER", "aliases": ["Lovelace"], "popularity": 0.8},
    {"entity_id": "Q312", "label": "Apple Inc.", "description": "American technology company", "entity_type": "ORG",
     "aliases": ["Apple"], "popularity": 0.9},
]


def write_source(folder: Path, texts: list[str] = TEXTS, name: str = "source.jsonl") -> Path:
    path = folder / name
    path.write_text("".join(json.dumps({"text": text, "meta": {"id": index}}) + "\n"
                            for index, text in enumerate(texts)), encoding="utf-8")
    return path


def write_entities(folder: Path) -> Path:
    path = folder / "entities.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in ENTITIES), encoding="utf-8")
    return path


def trained_pipeline(folder: Path | None = None, steps: int = 40) -> Pipeline:
    nlp = Pipeline()
    ner = nlp.add_pipe("elkit.SpanNER.v1", name="ner", config={"seed": 1})
    docs = make_docs()
    ner.initialize(lambda: docs)
    for _ in range(steps):
        ner.update(docs)
    if folder is not None:
        nlp.to_disk(folder)
    return nlp


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``elkit annotate`` started as a real process on a free loopback port."""

    def __init__(self, arguments: list[str], home: Path, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth  # basic-auth credentials for the readiness check, when the server asks for them
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "ELKIT_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        self.log = open(home / f"server-{self.port}.log", "w", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "elkit", "annotate", *arguments, "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=environment)
        self.wait_ready()

    def wait_ready(self, timeout: float = 180.0) -> None:  # a hang guard only: busy machines start slowly
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}: "
                                   f"{Path(self.log.name).read_text(encoding='utf-8')}")
            try:
                if httpx.get(self.url + "/api/config", auth=self.auth, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start in time")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as in a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
