"""Entity linking on AIDA CoNLL-YAGO against spaCy's EntityLinker and a count table, on gold mentions.

Trains elkit's linker with configs/link_aida.toml on aida_train.tsv (cached under --cache unless --retrain),
evaluates it on aida_testa.tsv (or --test), and runs spaCy 3.8's EntityLinker trained on the same data with the
same KB (benchmarks/spacy_el_peer.py, also cached) in the same process on the same documents. Both are timed on
one thread. In-KB accuracy is over the gold mentions with an entity: the share whose top-scored candidate is
right (the standard AIDA figure); "with NIL" also counts a NIL answer on them as wrong.

The protocol: every choice elkit's training makes (the best epoch, the NIL offset, the reranker's combination
weights) is made on 10% of the training documents held out in runs of ten consecutive documents
(`elkit.linking.selection.held_out_split`, the config's ``[training] held_out_share``); testa is only reported. The
two non-learned baselines of benchmarks/link_baselines.py — p(entity | mention) counted on aida_train with the
PPR prior and then popularity as backoff, and the most popular candidate — rank the same candidates elkit's
linker scores.

When the config has a ``[components.entity_linker.reranker]`` section, the cross-encoder reranker is fine-tuned
on top of the cached first stage (cached too, unless --retrain) and the linker is evaluated with it; the speed
comparison with spaCy is timed with the reranker off, as the issue asks, and the reranked speed is printed too.

With ``--end-to-end --ner-model DIR`` it also runs from raw tokens: the NER model finds the mentions (their
labels become AIDA's ``ENTITY``, the label the linker was trained with), the first-stage linker links them, and the
result is scored as GERBIL's strong annotation match, in-KB: micro precision over the predicted spans linked to an
entity, recall over the gold spans with an entity, a pair counting when its offsets and its entity both match.

    .venv/bin/python benchmarks/link_aida.py [--test PATH] [--aliases PATH] [--retrain] [--reuse-reranker DIR]
        [--first-stage-only] [--end-to-end --ner-model DIR]

Last lines: aida_testa_accuracy, aida_testa_accuracy_spacy, link_speed_ratio_vs_spacy (or aida_test_* with
--test), then aida_testa_e2e_f1 with --end-to-end.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from elkit.corpora.aida import AIDA_LABEL, read_aida
from elkit.doc import Doc
from elkit.evaluation import LinkScores, score_links
from elkit.kb import DiskKB, KBBuilder, open_kb
from elkit.kb.sources import read_alias_table, read_entities_jsonl
from elkit.linking import EntityLinker, strip_links
from elkit.linking.training import train_linking
from elkit.packaging import load
from link_baselines import table_and_popularity
from reranking import first_stage_config, load_linker, static_vectors, without_reranker
from spacy_el_peer import build_spacy_kb, evaluate_spacy_linker, train_spacy_linker

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "aida"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_kb(entities: Path, aliases: Path, folder: Path) -> DiskKB:
    if (folder / "manifest.json").is_file():
        return open_kb(folder)
    builder = KBBuilder()
    builder.add_records(read_entities_jsonl(entities, popularity_field="in_count", type_field="ppr_type"))
    builder.add_alias_rows(read_alias_table(aliases))
    builder.build(folder, overwrite=True)
    return open_kb(folder)


def end_to_end(ner_model: Path, linker: EntityLinker, gold: list[Doc], resolve: Callable[[str], str | None]
               ) -> tuple[LinkScores, float]:
    """Find mentions with the NER pipeline at `ner_model`, link them, and score (span, entity) pairs.

    Returns the scores (their ``e2e_*`` fields) and the words per second of NER and linking together.
    """
    nlp = load(ner_model)
    blanks = [Doc(doc.text, doc.token_starts, doc.token_ends, sentence_starts=doc.sentence_starts, validate=False)
              for doc in gold]
    words = sum(len(doc.token_starts) for doc in gold)
    with threadpool_limits(1):
        started = time.perf_counter()
        found = list(nlp.pipe(blanks, batch_size=64))
        for doc in found:
            doc.ents = [span.replace(label=AIDA_LABEL) for span in doc.ents]
        predicted = list(linker.pipe(found, batch_size=64))
        seconds = time.perf_counter() - started
    return score_links(predicted, gold, resolve=resolve), words / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=DATA / "aida_train.tsv")
    parser.add_argument("--dev", type=Path, default=DATA / "aida_testa.tsv")
    parser.add_argument("--test", type=Path, default=None, help="evaluate this split instead of the dev set")
    parser.add_argument("--entities", type=Path, default=DATA / "kb" / "entities.jsonl")
    parser.add_argument("--aliases", type=Path, default=DATA / "kb" / "aliases_ppr.tsv")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "link_aida.toml")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/elkit-bench/link_aida"))
    parser.add_argument("--spacy-cache", type=Path, default=Path("/tmp/elkit-bench/spacy_el"))
    parser.add_argument("--spacy-minutes", type=float, default=12.0)
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--first-stage-only", action="store_true",
                        help="leave the config's reranker out (no 30-minute cross-encoder fine-tune)")
    parser.add_argument("--reuse-reranker", type=Path, default=None,
                        help="a fine-tuned reranker folder to put on the first stage (only its weights are refitted)")
    parser.add_argument("--end-to-end", action="store_true",
                        help="also find the mentions with --ner-model and score end to end (GERBIL strong match)")
    parser.add_argument("--ner-model", type=Path, default=None, help="a trained elkit NER pipeline folder")
    args = parser.parse_args()
    if args.end_to_end and (args.ner_model is None or not args.ner_model.is_dir()):
        parser.error(f"--end-to-end needs --ner-model DIR, a trained NER pipeline folder (got {args.ner_model})")
    if args.first_stage_only:
        args.config = without_reranker(args.config, args.cache)
    torch.set_num_threads(1)
    kb_folder = args.cache / f"kb-{args.aliases.stem}"
    kb = build_kb(args.entities, args.aliases, kb_folder)
    log(f"KB: {kb.entity_count:,} entities, {kb.alias_count:,} aliases")
    train_docs = list(read_aida(args.train))
    dev_docs = list(read_aida(args.dev))
    eval_docs = list(read_aida(args.test)) if args.test else dev_docs
    model = args.cache / f"model-{args.aliases.stem}"
    if args.retrain or not (model / "model-best" / "manifest.json").is_file():
        config = first_stage_config(args.config, kb_folder, static_vectors(), args.reuse_reranker)
        started = time.perf_counter()
        train_linking(config, train_docs, dev_docs, model)
        log(f"trained the linker in {(time.perf_counter() - started) / 60:.1f} min")
    linker = load_linker(model / "model-best", kb, args.config, train_docs,
                         args.cache / f"model-{args.aliases.stem}-reranker", args.retrain, args.reuse_reranker)
    reranker = linker.reranker
    linker.reranker = None
    list(linker.pipe(strip_links(eval_docs[:5])))  # warm-up: load lazily opened files
    stripped = strip_links(eval_docs)
    mentions = sum(len(doc.ents) for doc in eval_docs)
    with threadpool_limits(1):
        started = time.perf_counter()
        predicted = list(linker.pipe(stripped, batch_size=64))
        seconds = time.perf_counter() - started
    first_stage = score_links(predicted, eval_docs, resolve=kb.resolve)
    ours, ours_speed, reranked_speed = first_stage, mentions / seconds, 0.0
    if reranker is not None:
        linker.reranker = reranker
        with threadpool_limits(1):
            started = time.perf_counter()
            predicted = list(linker.pipe(strip_links(eval_docs), batch_size=64))
            reranked_speed = mentions / (time.perf_counter() - started)
        ours = score_links(predicted, eval_docs, resolve=kb.resolve)

    linker.reranker = None
    table, popular = table_and_popularity(linker, train_docs, eval_docs)
    combined = end_to_end(args.ner_model, linker, eval_docs, kb.resolve) if args.end_to_end else None
    linker.reranker = reranker

    spacy_kb = build_spacy_kb(args.entities, args.aliases, args.spacy_cache)
    spacy_model = train_spacy_linker(train_docs, dev_docs, spacy_kb, args.spacy_cache / "linker", args.spacy_minutes)
    import spacy

    spacy_nlp = spacy.load(spacy_model)
    theirs = evaluate_spacy_linker(spacy_nlp, eval_docs, threads=1)

    split = "test" if args.test else "testa"
    print(f"\nAIDA {args.test or args.dev}: {ours.linked_mentions:,} linked gold mentions, {ours.nil_mentions:,} NIL")
    print(f"{'system':<28} {'in-KB acc':>9} {'with NIL':>9} {'NIL P':>7} {'NIL R':>7} {'R@30':>7} {'mentions/s':>11}")
    print(f"{'elkit, reranker off':<28} {first_stage.accuracy_no_nil:>9.4f} {first_stage.accuracy:>9.4f} "
          f"{first_stage.nil_precision:>7.4f} {first_stage.nil_recall:>7.4f} {first_stage.recall_at[30]:>7.4f} "
          f"{ours_speed:>11,.0f}")
    if reranker is not None and not reranker.active:
        print("(the cross-encoder reranker is switched off: it got fewer dev items right than the first stage)")
    elif reranker is not None:
        print(f"{'elkit, cross-encoder rerank':<28} {ours.accuracy_no_nil:>9.4f} {ours.accuracy:>9.4f} "
              f"{ours.nil_precision:>7.4f} {ours.nil_recall:>7.4f} {ours.recall_at[30]:>7.4f} {reranked_speed:>11,.0f}")
    print(f"{'spaCy 3.8 EntityLinker':<28} {theirs['accuracy']:>9.4f} {theirs['accuracy']:>9.4f} "
          f"{theirs['nil_precision']:>7.4f} {theirs['nil_recall']:>7.4f} {'':>7} "
          f"{theirs['mentions_per_second']:>11,.0f}")
    print(f"{'count table p(e|m), backoff':<28} {table.accuracy_no_nil:>9.4f} {'':>9} {'':>7} {'':>7} "
          f"{table.recall_at[30]:>7.4f}")
    print(f"{'most popular candidate':<28} {popular.accuracy_no_nil:>9.4f}")
    print(f"aida_{split}_accuracy_count_table: {table.accuracy_no_nil:.4f}")
    print(f"aida_{split}_accuracy_most_popular: {popular.accuracy_no_nil:.4f}")
    print(f"aida_{split}_first_stage_minus_table: {first_stage.accuracy_no_nil - table.accuracy_no_nil:+.4f}")
    print(f"aida_{split}_accuracy_reranker_off: {first_stage.accuracy_no_nil:.4f}")
    print(f"aida_{split}_accuracy_with_nil: {ours.accuracy:.4f}")
    print(f"aida_{split}_nil_precision: {ours.nil_precision:.4f}")
    print(f"aida_{split}_nil_recall: {ours.nil_recall:.4f}")
    print(f"aida_{split}_accuracy: {ours.accuracy_no_nil:.4f}")
    print(f"aida_{split}_accuracy_spacy: {theirs['accuracy']:.4f}")
    print(f"link_speed_ratio_vs_spacy: {ours_speed / theirs['mentions_per_second']:.2f}")
    if combined is not None:
        scores, words_per_second = combined
        print(f"\nend to end with {args.ner_model} and the first stage: in-KB strong match P {scores.e2e_precision:.4f}"
              f" R {scores.e2e_recall:.4f} F1 {scores.e2e_f:.4f}; {words_per_second:,.0f} words/s (1 thread)")
        print(f"aida_{split}_e2e_precision: {scores.e2e_precision:.4f}")
        print(f"aida_{split}_e2e_recall: {scores.e2e_recall:.4f}")
        print(f"aida_{split}_e2e_f1: {scores.e2e_f:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
