"""`elkit apply` and `elkit link` with one and two worker processes on the same texts: same output, and how much faster.

Texts: the first --limit sentences of CoNLL-2003 valid, one a line. `apply` runs the zero-shot recognizer from
examples/zeroshot.toml (shipped heads, nothing to train); `link` runs the default no-training pipeline against
examples/kb/entities.jsonl (zero-shot recognizer, alias mentions, general linker). Each command runs as a fresh
process, as a user runs it, with --n-process 1 and then 2 (model loading included in the time); the outputs
must be the same, scores within 1e-4.

    .venv/bin/python benchmarks/scale_processes.py [--limit 800]

Last line: n_process_2_speedup (the lower of the apply and link ratios).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
ELKIT = ROOT / ".venv" / "bin" / "elkit"


def conll_sentences(path: Path, limit: int) -> list[str]:
    """The first `limit` sentences of a CoNLL file, words joined by spaces."""
    sentences, words = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                sentences.append(" ".join(words))
                words = []
                if len(sentences) >= limit:
                    break
            continue
        words.append(line.split()[0])
    return sentences


def same_output(first: Path, second: Path) -> bool:
    """True when two output files hold the same records, scores within 1e-4.

    One process with two torch threads and two processes with one each add floats in another order, which moves
    scores by about 1e-7.
    """

    def close(left: object, right: object) -> bool:
        if isinstance(left, float) and isinstance(right, float):
            return abs(left - right) <= 1e-4
        if isinstance(left, dict) and isinstance(right, dict):
            return left.keys() == right.keys() and all(close(left[key], right[key]) for key in left)
        if isinstance(left, list) and isinstance(right, list):
            return len(left) == len(right) and all(close(a, b) for a, b in zip(left, right, strict=True))
        return left == right

    lines = [path.read_text(encoding="utf-8").splitlines() for path in (first, second)]
    return len(lines[0]) == len(lines[1]) and all(
        close(json.loads(a), json.loads(b)) for a, b in zip(*lines, strict=True))


def run(arguments: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([str(ELKIT), *arguments], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=800, help="sentences of CoNLL-2003 valid")
    parser.add_argument("--output", type=Path, default=Path("/tmp/elkit-bench/scale_processes"))
    arguments = parser.parse_args()
    output = arguments.output
    output.mkdir(parents=True, exist_ok=True)
    texts = output / "texts.txt"
    texts.write_text("\n".join(conll_sentences(DATA / "conll2003" / "valid.txt", arguments.limit)) + "\n",
                     encoding="utf-8")
    link = ["link", str(texts), "--entities", str(ROOT / "examples" / "kb" / "entities.jsonl"), "--no-table",
            "--cache-dir", str(output / "cache")]
    run([*link, "--output", str(output / "warm.jsonl")])  # builds and caches the KB once
    ratios = {}
    for name, command in (("apply", ["apply", str(ROOT / "examples" / "zeroshot.toml"), str(texts)]),
                          ("link", link)):
        seconds = {}
        for processes in (1, 2):
            target = output / f"{name}-{processes}.jsonl"
            where = [str(target)] if name == "apply" else ["--output", str(target)]
            seconds[processes] = run([*command, *where, "--n-process", str(processes)])
        same = same_output(output / f"{name}-1.jsonl", output / f"{name}-2.jsonl")
        ratios[name] = seconds[1] / seconds[2]
        print(f"{name}: {arguments.limit} texts, 1 process {seconds[1]:.1f} s, 2 processes {seconds[2]:.1f} s, "
              f"ratio {ratios[name]:.2f}, identical output: {same}")
        if not same:
            print(f"{name}: outputs differ", file=sys.stderr)
            return 1
    print(f"n_process_2_speedup: {min(ratios.values()):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
