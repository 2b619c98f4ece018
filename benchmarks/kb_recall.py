"""Candidate recall on real data: NCBI-disease dev against MEDIC, and AIDA testa against the AIDA KB.

For NCBI-disease, two KBs are built from ../shared/data/medic: the plain vocabulary, and the vocabulary
enriched with the training set's mention → id pairs as counted aliases (as BioSyn and SapBERT do). A gold
mention is found at k when any of its gold ids (composite ids count each part; OMIM ids resolve through the
concept's other ids) is among the first k candidates. Each generator is measured alone and in the union;
mentions per second are measured on one core.

For AIDA, the KB is entities.jsonl + aliases_ppr.tsv; the alias table's own coverage (gold entity listed
under the mention's exact text) is computed straight from the TSV and compared with the generators' recall.

Run: ``.venv/bin/python benchmarks/kb_recall.py [--data ../shared/data] [--work /tmp/elkit-bench]``
(KBs and vectors are cached under --work; pass --rebuild to build them again.)
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from elkit.candidates import (
    CandidateGenerator,
    DenseGenerator,
    ExactGenerator,
    FuzzyGenerator,
    NormalizedGenerator,
    UnionGenerator,
)
from elkit.corpora import read_corpus
from elkit.corpora.base import mentions
from elkit.corpora.pubtator import split_ids
from elkit.doc import NIL
from elkit.encoders import TextEncoder
from elkit.kb import DiskKB, KBBuilder, open_kb
from elkit.kb.dense import embed_kb
from elkit.kb.enrich import mention_alias_counts
from elkit.kb.sources import read_alias_table, read_entities_jsonl, read_synonyms

KS = (1, 10, 64)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_medic(data: Path, folder: Path, enriched: bool, rebuild: bool) -> DiskKB:
    if folder.exists() and not rebuild:
        return open_kb(folder)
    builder = KBBuilder(on_error="skip")
    builder.add_records(read_synonyms(data / "medic/medic_06Jul2012.txt", numeric_id_prefix="OMIM:",
                                      entity_type="Disease"))
    if enriched:
        train = read_corpus(data / "ncbi_disease/NCBItrainset_corpus.txt", "pubtator")
        builder.add_alias_counts(mention_alias_counts(train), "NCBItrainset_corpus.txt")
    started = time.perf_counter()
    builder.build(folder, overwrite=True)
    log(f"built {folder.name} in {time.perf_counter() - started:.1f}s; report: {builder.report.counts}")
    return open_kb(folder)


def gold_mentions(path: Path, format: str) -> list[tuple[str, list[str]]]:
    gold = []
    for doc in read_corpus(path, format):
        for span in mentions(doc):
            if span.kb_id and span.kb_id != NIL:
                gold.append((span.text, split_ids(span.kb_id)))
    return gold


def recall(
    kb: DiskKB, generator: CandidateGenerator, gold: Sequence[tuple[str, list[str]]]
) -> tuple[dict[int, float], float, float]:
    """Return recall@k for KS and for all candidates, and mentions per second."""
    texts = [text for text, _ in gold]
    started = time.perf_counter()
    found = generator.batch(texts)
    elapsed = time.perf_counter() - started
    hits = {k: 0 for k in (*KS, 0)}
    for (_, gold_ids), candidates in zip(gold, found, strict=True):
        targets = {kb.resolve(gold_id) or gold_id for gold_id in gold_ids}
        ranks = [rank for rank, candidate in enumerate(candidates) if candidate.entity_id in targets]
        if ranks:
            hits[0] += 1
            for k in KS:
                hits[k] += ranks[0] < k
    total = max(len(gold), 1)
    return {k: hits[k] / total for k in KS}, hits[0] / total, len(gold) / max(elapsed, 1e-9)


def generators_for(kb: DiskKB, encoder: TextEncoder | None) -> dict[str, CandidateGenerator]:
    chosen: dict[str, CandidateGenerator] = {
        "exact": ExactGenerator(kb),
        "normalized": NormalizedGenerator(kb),
        "fuzzy": FuzzyGenerator(kb, limit=64, min_score=0.0),
    }
    if encoder is not None and kb.vector_dim:
        chosen["dense"] = DenseGenerator(kb, encoder, limit=64)
    chosen["union"] = UnionGenerator(list(chosen.values()), limit=64)
    return chosen


def report_table(name: str, kb: DiskKB, gold: Sequence[tuple[str, list[str]]], encoder: TextEncoder | None) -> dict:
    results = {}
    print(f"\n{name}: {len(gold):,} gold mentions, KB {kb.entity_count:,} entities / {kb.alias_count:,} aliases")
    print(f"  {'generator':<11} {'R@1':>7} {'R@10':>7} {'R@64':>7} {'R@all':>7} {'mentions/s':>11}")
    for generator_name, generator in generators_for(kb, encoder).items():
        at_k, at_all, speed = recall(kb, generator, gold)
        results[generator_name] = (at_k, at_all, speed)
        print(f"  {generator_name:<11} {at_k[1]:7.1%} {at_k[10]:7.1%} {at_k[64]:7.1%} {at_all:7.1%} {speed:11,.0f}")
    return results


def aida(data: Path, work: Path, rebuild: bool) -> dict:
    folder = work / "aida_kb"
    if rebuild or not folder.exists():
        builder = KBBuilder(on_error="skip")
        builder.add_records(read_entities_jsonl(data / "aida/kb/entities.jsonl", popularity_field="in_count",
                                                type_field="ppr_type"))
        builder.add_alias_rows(read_alias_table(data / "aida/kb/aliases_ppr.tsv"))
        builder.build(folder, overwrite=True)
        log(f"built aida_kb; report: {builder.report.counts}")
    kb = open_kb(folder)
    gold = gold_mentions(data / "aida/aida_testa.tsv", "aida")
    table: dict[str, set[str]] = {}
    with open(data / "aida/kb/aliases_ppr.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            table.setdefault(row["alias"], set()).add(row["entity_id"])
    coverage = sum(bool(table.get(text, set()) & set(ids)) for text, ids in gold) / len(gold)
    results = report_table("AIDA testa (linked mentions)", kb, gold, None)
    print(f"  alias table's own coverage (gold entity under the exact mention text): {coverage:.1%}")
    return {"coverage": coverage, **results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data")
    parser.add_argument("--work", type=Path, default=Path("/tmp/elkit-bench"))
    parser.add_argument("--rebuild", action="store_true", help="Build the KBs and vectors again.")
    parser.add_argument("--no-dense", action="store_true", help="Skip the dense generator (no encoder).")
    parser.add_argument("--units", default="aliases", choices=("entities", "aliases"), help="Dense index units.")
    parser.add_argument("--embed-threads", type=int, default=2, help="Torch threads while embedding the KBs.")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # mentions/s are reported for one core
    args.work.mkdir(parents=True, exist_ok=True)
    if args.rebuild:
        for name in ("medic_plain", "medic_enriched", "aida_kb"):
            shutil.rmtree(args.work / name, ignore_errors=True)
    encoder = None if args.no_dense else TextEncoder()
    gold = gold_mentions(args.data / "ncbi_disease/NCBIdevelopset_corpus.txt", "pubtator")
    tables = {}
    for name, enriched in (("medic_plain", False), ("medic_enriched", True)):
        kb = build_medic(args.data, args.work / name, enriched, args.rebuild)
        if encoder is not None and not kb.vector_dim:
            started = time.perf_counter()
            torch.set_num_threads(args.embed_threads)
            spec = embed_kb(kb.path, encoder, units=args.units, batch_size=256)
            torch.set_num_threads(1)
            log(f"embedded {name}: {spec['vectors']:,} vectors in {time.perf_counter() - started:.0f}s")
            kb = open_kb(args.work / name)
        tables[name] = report_table(f"NCBI-disease dev vs {name}", kb, gold, encoder)
    aida_results = aida(args.data, args.work, args.rebuild)
    union = tables["medic_enriched"]["union"][0]
    print()
    print(f"ncbi_dev_plain_union_recall_at_1: {tables['medic_plain']['union'][0][1]:.4f}")
    print(f"ncbi_dev_plain_union_recall_at_64: {tables['medic_plain']['union'][0][64]:.4f}")
    print(f"aida_testa_table_coverage: {aida_results['coverage']:.4f}")
    print(f"aida_testa_exact_recall_all: {aida_results['exact'][1]:.4f}")
    print(f"aida_testa_union_recall_at_64: {aida_results['union'][0][64]:.4f}")
    print(f"ncbi_dev_union_recall_at_1: {union[1]:.4f}")
    print(f"ncbi_dev_union_recall_at_64: {union[64]:.4f}")


if __name__ == "__main__":
    main()
