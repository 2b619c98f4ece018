"""Disease linking on NCBI-disease against MEDIC, on gold mentions (no oracle candidates).

Trains elkit's linker with configs/link_ncbi.toml on the NCBI training set (cached under --cache unless
--retrain) and reports acc@1 on the development set (or --test): a mention is right when the linker's answer is
one of its gold ids (composite ids split, OMIM ids resolved through MEDIC).

The protocol: the best epoch, the NIL offset and the reranker's combination weights are chosen on 10% of the
training documents held out in runs of consecutive documents (`elkit.linking.selection.held_out_split`); the dev
set is only reported. The count table (p(entity | mention) from the training set, KB prior then popularity backoff;
benchmarks/link_baselines.py) ranks the same candidates.

With ``--cross-corpus`` it also checks how the linker carries to another corpus annotated against MEDIC:
the first stage trained on NCBI-disease train links the disease mentions of BC5CDR dev, and a first stage trained
on BC5CDR train (its disease mentions; cached under --cache) links NCBI-disease dev. Each is printed beside the
count table of its own training corpus and the MiniLM-cosine baseline (nearest MEDIC name over the whole KB).

    .venv/bin/python benchmarks/link_ncbi.py [--test PATH] [--retrain] [--reuse-reranker DIR] [--first-stage-only]
        [--cross-corpus]

Last line: ncbi_dev_acc1 (or ncbi_test_acc1 with --test); with --cross-corpus, then bc5cdr_dev_acc1_from_ncbi
and ncbi_dev_acc1_from_bc5cdr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from elkit.corpora import read_corpus
from elkit.doc import Doc
from elkit.evaluation import score_links
from elkit.kb import DiskKB, KBBuilder, open_kb
from elkit.kb.dense import embed_kb
from elkit.kb.sources import read_synonyms
from elkit.linking import EntityLinker, strip_links
from elkit.linking.training import train_linking
from link_baselines import minilm_cosine, table_and_popularity
from reranking import first_stage_config, load_linker, static_vectors, without_reranker

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_kb(medic: Path, folder: Path) -> DiskKB:
    if not (folder / "manifest.json").is_file():
        builder = KBBuilder(on_error="skip")
        builder.add_records(read_synonyms(medic, numeric_id_prefix="OMIM:", entity_type="Disease"))
        builder.build(folder, overwrite=True)
    kb = open_kb(folder)
    if not kb.vector_dim:
        from elkit.encoders import TextEncoder

        embed_kb(folder, TextEncoder(), units="aliases")
        kb = open_kb(folder)
    return kb


def diseases(docs: list[Doc]) -> list[Doc]:
    """The documents with their ``Disease`` mentions only (BC5CDR also annotates chemicals, which MEDIC lacks)."""
    for doc in docs:
        doc.ents = [span for span in doc.ents if span.label == "Disease"]
    return docs


def carry_over(linker: EntityLinker, train: list[Doc], gold: list[Doc], kb: DiskKB
               ) -> tuple[float, float, float, float]:
    """Acc@1 on `gold`: the first stage (with NIL, then its best candidate), the count table of `train`, MiniLM."""
    reranker, linker.reranker = linker.reranker, None
    ours = score_links(list(linker.pipe(strip_links(gold), batch_size=64)), gold, resolve=kb.resolve)
    table, _ = table_and_popularity(linker, train, gold)
    linker.reranker = reranker
    return ours.accuracy, ours.accuracy_no_nil, table.accuracy_no_nil, minilm_cosine(kb, gold).accuracy_no_nil


def cross_corpus(args: argparse.Namespace, kb: DiskKB, linker: EntityLinker, ncbi_train: list[Doc],
                 ncbi_dev: list[Doc]) -> None:
    """Print the NCBI → BC5CDR dev and BC5CDR → NCBI dev rows (first stage, count table, MiniLM cosine)."""
    bc5_train = diseases(list(read_corpus(args.bc5cdr_train, "pubtator")))
    bc5_dev = diseases(list(read_corpus(args.bc5cdr_dev, "pubtator")))
    config = without_reranker(args.config, args.cache)
    model = args.cache / "model-bc5cdr"
    if args.retrain or not (model / "model-best" / "manifest.json").is_file():
        train_linking(first_stage_config(config, args.kb, static_vectors(), None), bc5_train, bc5_dev, model)
    reverse = load_linker(model / "model-best", kb, config, bc5_train, args.cache / "unused", False)
    rows = [("NCBI train → BC5CDR dev", *carry_over(linker, ncbi_train, bc5_dev, kb)),
            ("BC5CDR train → NCBI dev", *carry_over(reverse, bc5_train, ncbi_dev, kb))]
    print("\ncross-corpus acc@1 (first stage; disease mentions, MEDIC)")
    print(f"{'':<26} {'elkit':>7} {'no NIL':>7} {'table':>7} {'MiniLM':>7}")
    for name, ours, forced, table, cosine in rows:
        print(f"{name:<26} {ours:>7.4f} {forced:>7.4f} {table:>7.4f} {cosine:>7.4f}")
    print(f"bc5cdr_dev_acc1_from_ncbi: {rows[0][1]:.4f}")
    print(f"ncbi_dev_acc1_from_bc5cdr: {rows[1][1]:.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=DATA / "ncbi_disease" / "NCBItrainset_corpus.txt")
    parser.add_argument("--dev", type=Path, default=DATA / "ncbi_disease" / "NCBIdevelopset_corpus.txt")
    parser.add_argument("--test", type=Path, default=None, help="evaluate this split instead of the dev set")
    parser.add_argument("--medic", type=Path, default=DATA / "medic" / "medic_06Jul2012.txt")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "link_ncbi.toml")
    parser.add_argument("--kb", type=Path, default=Path("/tmp/elkit-bench/medic_kb"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/elkit-bench/link_ncbi"))
    parser.add_argument("--retrain", action="store_true", help="train again instead of using the cached models")
    parser.add_argument("--first-stage-only", action="store_true",
                        help="leave the config's reranker out (no 30-minute cross-encoder fine-tune)")
    parser.add_argument("--reuse-reranker", type=Path, default=None,
                        help="a fine-tuned reranker folder to put on the first stage (only its weights are refitted)")
    parser.add_argument("--cross-corpus", action="store_true", help="also NCBI → BC5CDR dev and BC5CDR → NCBI dev")
    parser.add_argument("--bc5cdr-train", type=Path, default=DATA / "bc5cdr" / "CDR_TrainingSet.PubTator.txt")
    parser.add_argument("--bc5cdr-dev", type=Path, default=DATA / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt")
    args = parser.parse_args()
    config_given = args.config
    if args.first_stage_only:
        args.config = without_reranker(args.config, args.cache)
    torch.set_num_threads(1)
    kb = build_kb(args.medic, args.kb)
    log(f"KB: {kb.entity_count:,} entities, {kb.alias_count:,} aliases, vectors {kb.vector_dim}")
    train_docs = list(read_corpus(args.train, "pubtator"))
    dev_docs = list(read_corpus(args.dev, "pubtator"))
    eval_docs = list(read_corpus(args.test, "pubtator")) if args.test else dev_docs
    model = args.cache / "model"
    if args.retrain or not (model / "model-best" / "manifest.json").is_file():
        config = first_stage_config(args.config, args.kb, static_vectors(), args.reuse_reranker)
        started = time.perf_counter()
        train_linking(config, train_docs, dev_docs, model)
        log(f"trained the linker in {(time.perf_counter() - started) / 60:.1f} min")
    linker = load_linker(model / "model-best", kb, args.config, train_docs, args.cache / "model-reranker",
                         args.retrain, args.reuse_reranker)
    reranker, linker.reranker = linker.reranker, None
    started = time.perf_counter()
    predicted = list(linker.pipe(strip_links(eval_docs), batch_size=64))
    seconds = time.perf_counter() - started
    scores = first_stage = score_links(predicted, eval_docs, resolve=kb.resolve)
    if reranker is not None:
        linker.reranker = reranker
        predicted = list(linker.pipe(strip_links(eval_docs), batch_size=64))
        scores = score_links(predicted, eval_docs, resolve=kb.resolve)
        print(f"reranker off: acc@1 {first_stage.accuracy:.4f}; with the cross-encoder reranker: {scores.accuracy:.4f}"
              + ("" if reranker.active else " (switched off: it got fewer dev items right than the first stage)"))
    linker.reranker = None
    table, _ = table_and_popularity(linker, train_docs, eval_docs)
    linker.reranker = reranker
    split = "test" if args.test else "dev"
    mentions = sum(len(doc.ents) for doc in eval_docs)
    print(f"\nNCBI-disease {args.test or args.dev}: {scores.linked_mentions:,} gold mentions, KB {args.kb}")
    print(f"acc@1 {scores.accuracy:.4f} (best candidate, NIL not allowed: {scores.accuracy_no_nil:.4f}); "
          f"candidate recall@1/5/10/30 " + " / ".join(f"{scores.recall_at[k]:.4f}" for k in (1, 5, 10, 30)))
    print(f"{mentions / seconds:,.0f} mentions/s on one thread (dense candidates encode each mention with MiniLM)")
    print(f"count table p(e|m), KB prior and popularity backoff, same candidates: acc@1 {table.accuracy_no_nil:.4f}")
    print(f"ncbi_{split}_acc1_count_table: {table.accuracy_no_nil:.4f}")
    print(f"ncbi_{split}_acc1_reranker_off: {first_stage.accuracy:.4f}")
    print(f"ncbi_{split}_acc1_no_nil: {scores.accuracy_no_nil:.4f}")
    print(f"ncbi_{split}_acc1: {scores.accuracy:.4f}")
    if args.cross_corpus:
        args.config = config_given
        cross_corpus(args, kb, linker, train_docs, dev_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
