"""KB scale: build, open, memory and lookup speed on a synthetic KB of millions of entities, against spaCy.

The benchmark writes a synthetic KB (names built from syllables the way real names are: people as first +
last name, places, organisations with suffixes and acronyms; aliases are surnames, initials, acronyms and
case variants, so many are ambiguous), then, each in its own fresh process so memory figures are clean:

1. elkit builds a disk KB from entities.jsonl + aliases.tsv (the same path as ``elkit kb build``);
2. elkit opens it and measures resident memory after open, exact lookups per second on one core (the first pass
   over the queries pays the page faults of the memory-mapped files and is printed; the second, once the pages
   are mapped, is compared with spaCy's in-memory KB), fuzzy lookups (typo'd aliases: one of the original alias's
   entities in the top 10 is ``fuzzy_one_typo_recall_at_10``),
   and memory after 100k lookups; dense lookups per second on a usearch index over --dense-entities vectors
   (random unit vectors: the ANN search only, no encoder);
3. spaCy 3.8 builds an InMemoryLookupKB from the same rows and runs the same exact lookups
   (``get_alias_candidates``, which its ``get_candidates`` calls).

Run: ``.venv/bin/python benchmarks/kb_scale.py --entities 5000000 --aliases 15000000`` (about 20 minutes and
8 GB of RAM at that size; ``--entities 200000 --aliases 600000`` for a quick run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ONE_CORE = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
ONSETS = "b c d f g h j k l m n p r s t v w z br ch cl dr fr gr kr pl sh st th tr".split()
VOWELS = "a e i o u ai ea ei ie oo ou y".split()
CODAS = ["", "", "", "n", "r", "s", "l", "m", "t", "nd", "rt", "st", "ck", "ng", "x"]
ORG_SUFFIXES = ["Inc.", "Ltd", "Group", "University", "Bank", "Records", "Airlines", "FC", "Institute", "Holdings"]
DESCRIPTIONS = {
    "PER": ["politician", "footballer", "singer", "physicist", "novelist", "actor", "tennis player", "bishop"],
    "LOC": ["city", "village", "river", "mountain", "county", "island", "lake", "district"],
    "ORG": ["company", "football club", "university", "bank", "record label", "airline", "charity", "party"],
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def word(rng: random.Random) -> str:
    syllables = rng.choice((2, 2, 2, 3, 3, 4))
    text = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
    return text.capitalize()


def generate(folder: Path, entity_count: int, alias_count: int, seed: int, query_count: int) -> None:
    """Write entities.jsonl, aliases.tsv and queries.txt.

    aliases.tsv has (alias, entity_id, count) rows, about alias_count of them; queries.txt has `query_count`
    distinct aliases drawn uniformly (reservoir sampling over first occurrences).
    """
    rng = random.Random(seed)
    sample_rng = random.Random(seed + 1)
    seen: set[str] = set()
    sample: list[str] = []
    first_names = [word(rng) for _ in range(5000)]
    surnames = [word(rng) for _ in range(max(2000, entity_count // 8))]
    places = [word(rng) for _ in range(max(2000, entity_count // 6))]
    extra_per_entity = max(0.0, alias_count / entity_count - 1.0)
    rows = 0
    with open(folder / "entities.jsonl", "w", encoding="utf-8") as entities, open(
        folder / "aliases.tsv", "w", encoding="utf-8"
    ) as aliases:
        aliases.write("alias\tentity_id\tcount\n")
        for number in range(entity_count):
            entity_id = f"E{number}"
            kind = rng.choices(("PER", "LOC", "ORG"), (45, 25, 30))[0]
            if kind == "PER":
                first, last = rng.choice(first_names), rng.choice(surnames)
                name, variants = f"{first} {last}", [last, f"{first[0]}. {last}", f"{first} {last}".upper()]
            elif kind == "LOC":
                name = rng.choice(places) if rng.random() < 0.7 else f"{rng.choice(places)} {rng.choice(places)}"
                variants = [name.upper(), f"{name} ({rng.choice(places)})", name.lower()]
            else:
                core = f"{rng.choice(places)} {rng.choice(surnames)}" if rng.random() < 0.5 else rng.choice(surnames)
                name = f"{core} {rng.choice(ORG_SUFFIXES)}"
                variants = [core, "".join(part[0] for part in name.split()).upper(), name.upper()]
            popularity = int(rng.paretovariate(1.2) * 10)
            description = f"{rng.choice(DESCRIPTIONS[kind])} {rng.choice(places)}"
            record = {"entity_id": entity_id, "label": name, "description": description, "entity_type": kind,
                      "popularity": popularity}
            entities.write(json.dumps(record) + "\n")
            # The name itself, then as many variants as keep the total near alias_count.
            chosen = [name, *variants[: int(extra_per_entity) + (rng.random() < extra_per_entity % 1)]]
            for alias in dict.fromkeys(chosen):
                aliases.write(f"{alias}\t{entity_id}\t{int(rng.paretovariate(1.5) * 3)}\n")
                rows += 1
                if alias not in seen:
                    seen.add(alias)
                    if len(sample) < query_count:
                        sample.append(alias)
                    elif (slot := sample_rng.randrange(len(seen))) < query_count:
                        sample[slot] = alias
    (folder / "queries.txt").write_text("\n".join(sample) + "\n", encoding="utf-8")
    log(f"generated {entity_count:,} entities and {rows:,} alias rows in {folder}")


def run_child(mode: str, arguments: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--work", str(arguments.work),
               "--queries", str(arguments.queries), "--dense-entities", str(arguments.dense_entities)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **ONE_CORE}, check=False)
    sys.stderr.write(result.stderr[-3000:])
    if result.returncode != 0:
        return {"error": f"exit {result.returncode}: {result.stderr.strip().splitlines()[-1:]}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def query_aliases(work: Path, count: int, seed: int) -> list[str]:
    """Distinct aliases drawn uniformly at generation (90% of the queries) plus 10% that are in no alias."""
    rng = random.Random(seed)
    sample = (work / "queries.txt").read_text(encoding="utf-8").splitlines()[:count]
    misses = [f"{alias}zq" for alias in sample[: count // 10]]
    queries = sample[: count - len(misses)] + misses
    rng.shuffle(queries)
    return queries


def typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text
    position = rng.randrange(1, len(text) - 1)
    action = rng.choice(("swap", "drop", "insert", "replace"))
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if action == "swap":
        return text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    if action == "drop":
        return text[:position] + text[position + 1 :]
    if action == "insert":
        return text[:position] + letter + text[position:]
    return text[:position] + letter + text[position + 1 :]


def child_build(work: Path) -> dict:
    from elkit.kb import KBBuilder
    from elkit.kb.sources import read_alias_table, read_entities_jsonl

    started = time.perf_counter()
    builder = KBBuilder()
    builder.add_records(read_entities_jsonl(work / "entities.jsonl"))
    builder.add_alias_rows(read_alias_table(work / "aliases.tsv"))
    read_s = time.perf_counter() - started
    builder.build(work / "kb", overwrite=True, report=log)
    seconds = time.perf_counter() - started
    size = sum(path.stat().st_size for path in (work / "kb").iterdir())
    return {"build_s": seconds, "read_s": read_s, "size_mb": size / 1e6, "peak_rss_mb": peak_rss_mb(),
            "report": builder.report.counts}


def child_elkit(work: Path, query_count: int, dense_entities: int) -> dict:
    import gc

    queries = query_aliases(work, query_count, 1)
    rng = random.Random(2)
    fuzzy_queries = [typo(alias, rng) for alias in queries[:2000]]
    gc.collect()
    base = rss_mb()
    from elkit.kb import open_kb

    started = time.perf_counter()
    kb = open_kb(work / "kb")
    open_s = time.perf_counter() - started
    after_open = rss_mb() - base
    lookup = kb.get_alias_candidates
    started = time.perf_counter()
    found = sum(bool(lookup(alias)) for alias in queries)
    exact_cold_s = time.perf_counter() - started  # the first pass pays the page faults of the mapped files
    started = time.perf_counter()
    found = sum(bool(lookup(alias)) for alias in queries)
    exact_s = time.perf_counter() - started
    after_lookups = rss_mb() - base
    started = time.perf_counter()
    found_lists = [kb.get_fuzzy_candidates(query, limit=10) for query in fuzzy_queries]
    fuzzy_s = time.perf_counter() - started
    fuzzy_found = fuzzy_asked = 0  # over the typo'd queries whose original is an alias (not the made-up misses)
    for original, candidates in zip(queries[:2000], found_lists, strict=True):
        targets = {candidate.entity_id for candidate in kb.get_alias_candidates(original)}
        fuzzy_asked += bool(targets)
        fuzzy_found += bool(targets & {candidate.entity_id for candidate in candidates})
    return {"open_s": open_s, "rss_after_open_mb": after_open, "rss_after_lookups_mb": after_lookups,
            "exact_qps": len(queries) / exact_s, "exact_cold_qps": len(queries) / exact_cold_s,
            "exact_hit_rate": found / len(queries),
            "fuzzy_qps": len(fuzzy_queries) / fuzzy_s, "fuzzy_found_name_rate": fuzzy_found / max(fuzzy_asked, 1),
            **child_dense(work, dense_entities)}


def child_dense(work: Path, entity_count: int) -> dict:
    """Build (once) and query a usearch HNSW index of random 384-d unit vectors, as `elkit kb embed` makes."""
    import numpy as np
    from usearch.index import Index

    path = work / f"dense_{entity_count}.usearch"
    rng = np.random.default_rng(3)
    build_s = None
    if not path.exists():
        index = Index(ndim=384, metric="cos", dtype="f16", connectivity=16)
        started = time.perf_counter()
        for start in range(0, entity_count, 100_000):
            size = min(100_000, entity_count - start)
            vectors = rng.standard_normal((size, 384), dtype=np.float32)
            index.add(np.arange(start, start + size, dtype=np.uint64), vectors, threads=2, log=False)
        build_s = time.perf_counter() - started
        index.save(str(path))
        del index
    index = Index.restore(str(path), view=True)
    queries = rng.standard_normal((2000, 384), dtype=np.float32)
    started = time.perf_counter()
    for query in queries:
        index.search(query, 10, threads=1)
    return {"dense_entities": entity_count, "dense_qps": len(queries) / (time.perf_counter() - started),
            "dense_build_s": build_s}


def child_spacy(work: Path, query_count: int) -> dict:
    from spacy.kb import InMemoryLookupKB
    from spacy.vocab import Vocab

    queries = query_aliases(work, query_count, 1)
    started = time.perf_counter()
    base = rss_mb()
    kb = InMemoryLookupKB(Vocab(), entity_vector_length=1)
    ids, frequencies = [], []
    with open(work / "entities.jsonl", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            ids.append(record["entity_id"])
            frequencies.append(float(record["popularity"]))
    kb.set_entities(ids, frequencies, [[0.0]] * len(ids))
    del ids, frequencies
    grouped: dict[str, tuple[list[str], list[float]]] = {}
    with open(work / "aliases.tsv", encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            alias, entity_id, count = line.rstrip("\n").split("\t")
            entry = grouped.setdefault(alias, ([], []))
            entry[0].append(entity_id)
            entry[1].append(float(count))
    for alias, (entity_ids, counts) in grouped.items():
        total = sum(counts) or 1.0
        kb.add_alias(alias, entity_ids, [count / total for count in counts])
    del grouped
    build_s = time.perf_counter() - started
    memory = rss_mb() - base
    lookup = kb.get_alias_candidates
    started = time.perf_counter()
    found = sum(bool(lookup(alias)) for alias in queries)
    exact_s = time.perf_counter() - started
    return {"build_s": build_s, "rss_mb": memory, "exact_qps": len(queries) / exact_s,
            "exact_hit_rate": found / len(queries), "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=5_000_000)
    parser.add_argument("--aliases", type=int, default=15_000_000)
    parser.add_argument("--dense-entities", type=int, default=1_000_000, help="Vectors in the dense index.")
    parser.add_argument("--queries", type=int, default=100_000, help="Exact lookups timed.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/elkit-kb-scale"))
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--skip-spacy", action="store_true")
    parser.add_argument("--child", choices=("build", "elkit", "spacy"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    work = arguments.work
    if arguments.child == "build":
        print(json.dumps(child_build(work)))
        return
    if arguments.child == "elkit":
        print(json.dumps(child_elkit(work, arguments.queries, arguments.dense_entities)))
        return
    if arguments.child == "spacy":
        print(json.dumps(child_spacy(work, arguments.queries)))
        return
    work.mkdir(parents=True, exist_ok=True)
    stamp = work / "generated.json"
    wanted = {"entities": arguments.entities, "aliases": arguments.aliases, "queries": arguments.queries}
    if arguments.regenerate or not stamp.exists() or json.loads(stamp.read_text()) != wanted:
        generate(work, arguments.entities, arguments.aliases, seed=0, query_count=arguments.queries)
        stamp.write_text(json.dumps(wanted))
    build = run_child("build", arguments)
    log(f"elkit build: {build}")
    elkit = run_child("elkit", arguments)
    log(f"elkit lookups: {elkit}")
    spacy = {"error": "skipped"} if arguments.skip_spacy else run_child("spacy", arguments)
    log(f"spaCy: {spacy}")
    print(f"\nsynthetic KB: {arguments.entities:,} entities, {arguments.aliases:,} alias rows requested")
    print(f"  elkit build {build.get('build_s', 0):.0f} s (peak {build.get('peak_rss_mb', 0):,.0f} MB), "
          f"{build.get('size_mb', 0):,.0f} MB on disk")
    print(f"  elkit open {elkit['open_s'] * 1000:.1f} ms, RSS +{elkit['rss_after_open_mb']:.1f} MB after open, "
          f"+{elkit['rss_after_lookups_mb']:.1f} MB after {arguments.queries:,} lookups")
    print(f"  elkit exact {elkit['exact_qps']:,.0f}/s once mapped (hits {elkit['exact_hit_rate']:.0%}), fuzzy "
          f"{elkit['fuzzy_qps']:,.0f}/s (typo'd alias: an entity of the alias in top 10 "
          f"{elkit['fuzzy_found_name_rate']:.0%}),"
          f" dense {elkit['dense_qps']:,.0f}/s over {elkit['dense_entities']:,} vectors")
    if "error" in spacy:
        print(f"  spaCy: {spacy['error']}")
        ratio = float("nan")
    else:
        print(f"  spaCy build {spacy['build_s']:.0f} s, RSS +{spacy['rss_mb']:,.0f} MB (peak "
              f"{spacy['peak_rss_mb']:,.0f} MB), exact {spacy['exact_qps']:,.0f}/s "
              f"(hits {spacy['exact_hit_rate']:.0%})")
        ratio = elkit["exact_qps"] / spacy["exact_qps"]
        print(f"  exact lookups in the first pass after open (page faults of the mapped files included): "
              f"{elkit['exact_cold_qps']:,.0f}/s, {elkit['exact_cold_qps'] / spacy['exact_qps']:.2f} of spaCy's")
        print(f"  build_time_ratio_vs_spacy: {build['build_s'] / spacy['build_s']:.2f}")
        print(f"  memory_ratio_vs_spacy (elkit RSS after lookups / spaCy RSS): "
              f"{elkit['rss_after_lookups_mb'] / spacy['rss_mb']:.3f}")
    print()
    print(f"kb_open_s: {elkit['open_s']:.4f}")
    print(f"kb_rss_after_open_mb: {elkit['rss_after_open_mb']:.1f}")
    print(f"exact_lookup_ratio_vs_spacy: {ratio:.2f}")
    print(f"fuzzy_qps: {elkit['fuzzy_qps']:.0f}")
    print(f"fuzzy_one_typo_recall_at_10: {elkit['fuzzy_found_name_rate']:.4f}")
    print(f"dense_qps: {elkit['dense_qps']:.0f}")


if __name__ == "__main__":
    main()
