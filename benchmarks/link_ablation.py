"""Which parts of elkit's linker earn their keep: feature-group ablations under the held-out protocol.

The AIDA training documents are split once (`held_out_split`: 10% held out in runs of ten consecutive documents).
The linker is initialised on the rest (its tables never see the held-out documents), and one scorer is trained per
variant on the same cached features, each choosing its epoch and NIL offset on the held-out documents. Every
variant is then scored on the held-out documents and, for the record, on testa (which chooses nothing). Variants:

- ``all``: every feature group of the config;
- ``- GROUP``: all but one group (`elkit.linking.features.FEATURE_GROUPS`);
- ``table + GROUP``: the learned scorer with only the training counts and one more group;
- ``+ coherence`` / ``- coherence``: the document-coherence second pass switched on or off;
- ``- A - B``: several groups off together (``--combinations "popularity,context;popularity,context,table"``),
  each also with coherence switched the other way;
- the non-learned count table p(entity | mention) with KB-prior and popularity backoff, and the most popular candidate
  (benchmarks/link_baselines.py), on the same candidates.

The "best" variant is the one with the best held-out in-KB accuracy (chosen without testa). The cross-encoder
reranker is not ablated here (30 minutes a fine-tune): benchmarks/link_aida.py reports it beside the first stage.
It also counts how much of testa (and of the held-out documents) is about entities and mention strings that never
occur in the training documents, and the accuracy of the best variant and the table on those mentions.

    .venv/bin/python benchmarks/link_ablation.py [--groups prior,table,...] [--combinations A,B;C,D,E]
        [--split-seed N] [--dev PATH] [--aliases PATH]

Last lines: ablation_best_minus_table_heldout, ablation_best_minus_table_testa.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from elkit.corpora.aida import read_aida
from elkit.doc import NIL, Doc
from elkit.evaluation import LinkScores, gold_id_set, score_links
from elkit.linking import EntityLinker, link_gold_mentions
from elkit.linking.features import FEATURE_GROUPS
from elkit.linking.selection import held_out_split
from elkit.linking.training import fit_linker
from elkit.pipeline import Pipeline
from link_aida import DATA, ROOT, build_kb, log
from link_baselines import rank_candidates, table_and_popularity, table_ranking
from reranking import first_stage_config, static_vectors, without_reranker

Resolve = Callable[[str], str | None]


def seen_in(docs: Sequence[Doc], resolve: Resolve) -> tuple[set[str], set[str]]:
    """(entity ids, mention strings) of the gold links of `docs`."""
    entities, texts = set(), set()
    for doc in docs:
        for span in doc.ents:
            if span.kb_id and span.kb_id != NIL:
                entities |= gold_id_set(span.kb_id, resolve)
                texts.add(span.text)
    return entities, texts


def unseen_report(name: str, gold: Sequence[Doc], entities: set[str], texts: set[str], resolve: Resolve
                  ) -> list[bool]:
    """Print how many linked gold mentions of `gold` have an entity (or a string) never linked in training.

    Returns one flag per linked gold mention, in order: True when its entity is unseen.
    """
    flags, unseen_text, distinct, distinct_unseen = [], 0, set(), set()
    for doc in gold:
        for span in doc.ents:
            if span.kb_id and span.kb_id != NIL:
                ids = gold_id_set(span.kb_id, resolve)
                flags.append(not ids & entities)
                unseen_text += span.text not in texts
                distinct.add(span.kb_id)
                if not ids & entities:
                    distinct_unseen.add(span.kb_id)
    total = max(1, len(flags))
    print(f"{name}: {len(flags):,} linked gold mentions; entity never linked in training: {sum(flags):,} "
          f"({sum(flags) / total:.1%}; {len(distinct_unseen):,} of {len(distinct):,} distinct entities); "
          f"mention string never linked in training: {unseen_text:,} ({unseen_text / total:.1%})")
    return flags


def split_accuracy(predicted: Sequence[Doc], gold: Sequence[Doc], unseen: list[bool], resolve: Resolve
                   ) -> tuple[float, float]:
    """In-KB accuracy (best candidate) on the mentions of seen and of unseen entities."""
    right = {True: 0, False: 0}
    count = {True: 0, False: 0}
    flags = iter(unseen)
    for predicted_doc, gold_doc in zip(predicted, gold, strict=True):
        for span, gold_span in zip(predicted_doc.ents, gold_doc.ents, strict=True):
            if not gold_span.kb_id or gold_span.kb_id == NIL:
                continue
            flag = next(flags)
            count[flag] += 1
            right[flag] += bool(span.candidates) and span.candidates[0].entity_id in gold_id_set(gold_span.kb_id,
                                                                                               resolve)
    return (right[False] / max(1, count[False]), right[True] / max(1, count[True]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=DATA / "aida_train.tsv")
    parser.add_argument("--dev", type=Path, default=DATA / "aida_testa.tsv", help="reported only, never chosen on")
    parser.add_argument("--entities", type=Path, default=DATA / "kb" / "entities.jsonl")
    parser.add_argument("--aliases", type=Path, default=DATA / "kb" / "aliases_ppr.tsv")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "link_aida.toml")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/elkit-bench/link_aida"))
    parser.add_argument("--groups", default=",".join(group for group in FEATURE_GROUPS),
                        help="comma-separated feature groups to ablate")
    parser.add_argument("--combinations", default="",
                        help="semicolon-separated sets of comma-separated groups to switch off together")
    parser.add_argument("--split-seed", type=int, default=None,
                        help="seed of the held-out split (default: the config's [training] seed), to check a "
                             "decision on other held-out documents")
    parser.add_argument("--epochs", type=int, default=0, help="epochs per variant (0: the config's max_epochs)")
    args = parser.parse_args()
    combinations = [[group.strip() for group in combination.split(",") if group.strip()]
                    for combination in args.combinations.split(";") if combination.strip()]
    named = {group for off in combinations for group in off} | set(args.groups.split(","))
    unknown = sorted(named - set(FEATURE_GROUPS) - {""})
    if unknown:
        parser.error(f"unknown feature groups {unknown}; known: {list(FEATURE_GROUPS)}")
    torch.set_num_threads(1)
    started = time.perf_counter()
    kb_folder = args.cache / f"kb-{args.aliases.stem}"
    kb = build_kb(args.entities, args.aliases, kb_folder)
    train_docs = list(read_aida(args.train))
    dev_docs = list(read_aida(args.dev))
    config = first_stage_config(without_reranker(args.config, args.cache), kb_folder, static_vectors(), None)
    training = config.training
    split_seed = training.seed if args.split_seed is None else args.split_seed
    learn, held = held_out_split(train_docs, training.held_out_share, split_seed)
    log(f"{len(learn)} training documents, {len(held)} held out; dev {args.dev.name} reported only")
    nlp = Pipeline.from_config(config)
    linker = nlp.get_pipe("entity_linker")
    assert isinstance(linker, EntityLinker)
    linker.initialize(lambda: learn, show_progress=True)
    resolve = kb.resolve

    entities, texts = seen_in(learn, resolve)
    held_unseen = unseen_report("held-out", held, entities, texts, resolve)
    all_entities, all_texts = seen_in(train_docs, resolve)
    dev_unseen = unseen_report(args.dev.name, dev_docs, all_entities, all_texts, resolve)

    table_held, popular_held = table_and_popularity(linker, learn, held)
    table_dev, popular_dev = table_and_popularity(linker, learn, dev_docs)
    groups = [group for group in args.groups.split(",") if group]
    coherence = linker.settings.coherence
    variants: list[tuple[str, list[str], bool]] = [("all", [], coherence)]
    variants += [(f"- {group}", [group], coherence) for group in groups]
    variants.append(("- coherence" if coherence else "+ coherence", [], not coherence))
    for off in combinations:
        name = " ".join(f"- {group}" for group in off)
        variants.append((name, off, coherence))
        variants.append((f"{name} {'-' if coherence else '+'} coherence", off, not coherence))
    others = [group for group in FEATURE_GROUPS if group != "table"]
    variants.append(("table only (learned)", others, coherence))
    variants += [(f"table + {group}", [other for other in others if other != group], coherence)
                 for group in groups if group != "table"]
    epochs = args.epochs or training.max_epochs
    rows: list[tuple[str, LinkScores, LinkScores, int]] = []
    predictions: dict[str, list[Doc]] = {}
    for name, off, with_coherence in variants:
        linker.change_settings(features_off=off, coherence=with_coherence)
        linker.new_weights()
        result = fit_linker(linker, learn, held, epochs=epochs, patience=training.patience or epochs,
                            seed=training.seed, finish=False)
        held_scores = score_links(link_gold_mentions(linker, held), held, resolve=resolve)
        predicted = link_gold_mentions(linker, dev_docs)
        predictions[name] = predicted
        dev_scores = score_links(predicted, dev_docs, resolve=resolve)
        rows.append((name, held_scores, dev_scores, result.best_epoch))
        log(f"{name}: held-out {held_scores.accuracy_no_nil:.4f}, {args.dev.name} {dev_scores.accuracy_no_nil:.4f}")

    print(f"\nAblations on AIDA: {len(held)} held-out training documents "
          f"({table_held.linked_mentions:,} linked mentions) and {args.dev.name} "
          f"({table_dev.linked_mentions:,}); in-KB accuracy, and accuracy with NIL")
    width = max(26, *(len(row[0]) for row in rows))
    print(f"{'variant':<{width}} {'held-out':>9} {'+NIL':>7} {args.dev.stem:>9} {'+NIL':>7} {'epoch':>6}")
    print(f"{'count table p(e|m)':<{width}} {table_held.accuracy_no_nil:>9.4f} {'':>7} "
          f"{table_dev.accuracy_no_nil:>9.4f}")
    print(f"{'most popular':<{width}} {popular_held.accuracy_no_nil:>9.4f} {'':>7} {popular_dev.accuracy_no_nil:>9.4f}")
    for name, held_scores, dev_scores, epoch in rows:
        print(f"{name:<{width}} {held_scores.accuracy_no_nil:>9.4f} {held_scores.accuracy:>7.4f} "
              f"{dev_scores.accuracy_no_nil:>9.4f} {dev_scores.accuracy:>7.4f} {epoch:>6}")
    best = max(rows, key=lambda row: row[1].accuracy_no_nil)
    _, table_predicted = rank_candidates(linker, dev_docs, table_ranking(linker, learn))
    seen_best, unseen_best = split_accuracy(predictions[best[0]], dev_docs, dev_unseen, resolve)
    seen_table, unseen_table = split_accuracy(table_predicted, dev_docs, dev_unseen, resolve)
    print(f"\nbest on held-out: {best[0]!r}")
    print(f"{args.dev.name}, entities seen in training: best {seen_best:.4f}, table {seen_table:.4f}; "
          f"never seen: best {unseen_best:.4f}, table {unseen_table:.4f}")
    print(f"held-out mentions of unseen entities: {sum(held_unseen):,}")
    print(f"time: {(time.perf_counter() - started) / 60:.1f} min")
    print(f"ablation_best_minus_table_heldout: {best[1].accuracy_no_nil - table_held.accuracy_no_nil:+.4f}")
    print(f"ablation_best_minus_table_testa: {best[2].accuracy_no_nil - table_dev.accuracy_no_nil:+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
