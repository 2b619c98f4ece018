"""Linking with no annotated data from the target corpus: the general linker, leave one corpus out, gold mentions.

The general linker (`elkit.GeneralLinker.v1`) scores candidates with KB-independent features and a small scorer
trained on annotated linking corpora. Here it is trained three times, each time on examples made by its own
stages from the training splits (10% of each corpus's documents held out, in runs of ten, to choose the epoch and
fit the temperature):

- without AIDA (NCBI-disease train and BC5CDR train diseases, against MEDIC) → scored on AIDA testa with the AIDA
  KB (PPR aliases, or --aliases);
- without NCBI-disease (AIDA train and BC5CDR train) → scored on NCBI-disease dev with MEDIC;
- on all three → the scorer shipped with elkit (written with --save-shipped DIR).

Every linker here reads the KB's entity texts and names from vectors computed once per KB (float16, cached
beside the KB: ``GeneralLinker.precompute_entity_vectors``), as ``create_simple(precompute_embeddings=True)`` does.

Mentions are the gold spans. AIDA spans carry the CoNLL-2003 label of the same tokens (PER, ORG, LOC, MISC, read
as words), NCBI and BC5CDR spans their PubTator type. AIDA in-KB accuracy counts a NIL answer on a linked mention
as wrong; "no NIL" takes the best candidate instead. NCBI acc@1: the answer is one of the gold ids.

    .venv/bin/python benchmarks/link_zero_training.py [--test AIDA_TEST] [--ncbi-test PATH] [--aliases PATH]
        [--save-shipped DIR] [--rebuild]

Last lines: aida_testa_zero_training_accuracy, ncbi_dev_zero_training_acc1 (aida_test_… / ncbi_test_… with the
test flags).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from elkit.corpora import read_corpus
from elkit.corpora.aida import read_aida
from elkit.doc import Doc
from elkit.evaluation import LinkScores, score_links
from elkit.kb.base import KnowledgeBase
from elkit.linking import strip_links
from elkit.linking.general import GeneralLinker
from elkit.linking.general_model import GeneralScorer, save_scorer
from elkit.linking.selection import held_out_split
from elkit.training.general_linker import (
    GeneralExample,
    GeneralTrainingSettings,
    LinkingCorpus,
    corpus_examples,
    fit_scorer,
)
from link_aida import build_kb as build_aida_kb
from link_ncbi import build_kb as build_medic_kb
from link_ncbi import diseases

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def with_conll_labels(docs: list[Doc], conll: Path) -> list[Doc]:
    """AIDA documents whose spans take the CoNLL-2003 label of the same tokens (the same documents, in order)."""
    labelled = list(read_corpus(conll, "conll"))
    if len(labelled) != len(docs):
        raise SystemExit(f"{conll}: {len(labelled)} documents, the AIDA file has {len(docs)}")
    for doc, reference in zip(docs, labelled, strict=True):
        labels = {(span.start, span.end): span.label for span in reference.ents}
        doc.ents = [span.replace(label=labels.get((span.start, span.end), span.label)) for span in doc.ents]
    return docs


def examples(name: str, docs: list[Doc], kb: KnowledgeBase, cache: Path, rebuild: bool
             ) -> tuple[list[GeneralExample], list[GeneralExample]]:
    """(training, held-out) examples of a corpus, cached."""
    path = cache / f"examples-{name}.pkl"
    if path.is_file() and not rebuild:
        with path.open("rb") as handle:
            return pickle.load(handle)
    learn, held = held_out_split(docs, 0.1)
    linker = linked_with_vectors(kb, cache)
    started = time.perf_counter()
    found = tuple(corpus_examples(linker, LinkingCorpus(name, part, kb), nil_rate=0.15, misspell_rate=0.1,
                                  label_noise=0.25, seed=seed)
                  for seed, part in ((0, learn), (1, held)))
    log(f"{name}: {len(found[0]):,} + {len(found[1]):,} held-out examples in {time.perf_counter() - started:.0f} s")
    cache.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pickle.dump(found, handle)
    return found


def linked_with_vectors(kb: KnowledgeBase, cache: Path, scorer: GeneralScorer | None = None) -> GeneralLinker:
    """A general linker over `kb` reading the KB's entity vectors, computed once and cached beside the KB."""
    linker = GeneralLinker()
    linker.set_kb(kb)
    if scorer is not None:
        linker.set_scorer(scorer)
    folder = cache / f"vectors-{Path(getattr(kb, 'path', 'kb')).name}"
    started = time.perf_counter()
    linker.precompute_entity_vectors(folder, show_progress=True)
    log(f"entity vectors of {folder.name}: ready in {time.perf_counter() - started:.0f} s")
    return linker


def train(parts: dict[str, tuple[list[GeneralExample], list[GeneralExample]]], names: list[str]
          ) -> GeneralScorer:
    learn = [example for name in names for example in parts[name][0]]
    held = [example for name in names for example in parts[name][1]]
    scorer, report = fit_scorer(learn, held, GeneralTrainingSettings())
    log(f"trained on {'+'.join(names)}: {report}")
    return scorer


def evaluate(scorer: GeneralScorer, kb: KnowledgeBase, gold: list[Doc], cache: Path) -> tuple[LinkScores, float]:
    linker = linked_with_vectors(kb, cache, scorer)
    list(linker.pipe(strip_links(gold[:2])))
    started = time.perf_counter()
    predicted = list(linker.pipe(strip_links(gold), batch_size=16))
    seconds = time.perf_counter() - started
    mentions = sum(len(doc.ents) for doc in gold)
    return score_links(predicted, gold, resolve=kb.resolve), mentions / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aida-train", type=Path, default=DATA / "aida" / "aida_train.tsv")
    parser.add_argument("--aida-dev", type=Path, default=DATA / "aida" / "aida_testa.tsv")
    parser.add_argument("--test", type=Path, default=None, help="an AIDA test file instead of testa")
    parser.add_argument("--test-conll", type=Path, default=None, help="the CoNLL-2003 file of --test's documents")
    parser.add_argument("--entities", type=Path, default=DATA / "aida" / "kb" / "entities.jsonl")
    parser.add_argument("--aliases", type=Path, default=DATA / "aida" / "kb" / "aliases_ppr.tsv")
    parser.add_argument("--ncbi-train", type=Path, default=DATA / "ncbi_disease" / "NCBItrainset_corpus.txt")
    parser.add_argument("--ncbi-dev", type=Path, default=DATA / "ncbi_disease" / "NCBIdevelopset_corpus.txt")
    parser.add_argument("--ncbi-test", type=Path, default=None, help="an NCBI-disease test file instead of dev")
    parser.add_argument("--bc5cdr-train", type=Path, default=DATA / "bc5cdr" / "CDR_TrainingSet.PubTator.txt")
    parser.add_argument("--medic", type=Path, default=DATA / "medic" / "medic_06Jul2012.txt")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/elkit-bench/link_zero_training"))
    parser.add_argument("--save-shipped", type=Path, default=None, help="write the all-corpora scorer here")
    parser.add_argument("--rebuild", action="store_true", help="make the training examples again")
    args = parser.parse_args()
    torch.set_num_threads(2)
    aida_kb = build_aida_kb(args.entities, args.aliases, args.cache / f"kb-{args.aliases.stem}")
    medic_kb = build_medic_kb(args.medic, args.cache / "medic_kb")
    conll = DATA / "conll2003"
    parts = {
        "aida": examples("aida", with_conll_labels(list(read_aida(args.aida_train)), conll / "train.txt"),
                         aida_kb, args.cache, args.rebuild),
        "ncbi": examples("ncbi", list(read_corpus(args.ncbi_train, "pubtator")), medic_kb, args.cache,
                         args.rebuild),
        "bc5cdr": examples("bc5cdr", diseases(list(read_corpus(args.bc5cdr_train, "pubtator"))), medic_kb,
                           args.cache, args.rebuild),
    }
    if args.test is not None and args.test_conll is None:
        parser.error("--test needs --test-conll, the CoNLL-2003 file with the same documents (for span labels)")
    aida_gold = with_conll_labels(list(read_aida(args.test or args.aida_dev)),
                                  args.test_conll or conll / "valid.txt")
    ncbi_gold = list(read_corpus(args.ncbi_test or args.ncbi_dev, "pubtator"))
    aida, aida_speed = evaluate(train(parts, ["ncbi", "bc5cdr"]), aida_kb, aida_gold, args.cache)
    ncbi, ncbi_speed = evaluate(train(parts, ["aida", "bc5cdr"]), medic_kb, ncbi_gold, args.cache)
    if args.save_shipped is not None:
        shipped = train(parts, ["aida", "ncbi", "bc5cdr"])
        save_scorer(shipped, args.save_shipped, {
            "trained_on": ["AIDA CoNLL-YAGO train (AIDA KB, PPR aliases)", "NCBI-disease train (MEDIC)",
                           "BC5CDR train, disease mentions (MEDIC)"],
            "encoder": "all-MiniLM-L6-v2"})
        log(f"shipped scorer written to {args.save_shipped}")
    aida_name = "aida_test" if args.test else "aida_testa"
    ncbi_name = "ncbi_test" if args.ncbi_test else "ncbi_dev"
    print(f"{'corpus':<12} {'mentions':>8} {'acc':>7} {'no NIL':>7} {'NIL P':>6} {'NIL R':>6} {'R@30':>6} {'m/s':>7}")
    for name, scores, speed in ((aida_name, aida, aida_speed), (ncbi_name, ncbi, ncbi_speed)):
        print(f"{name:<12} {scores.linked_mentions:>8} {scores.accuracy:>7.4f} {scores.accuracy_no_nil:>7.4f} "
              f"{scores.nil_precision:>6.2f} {scores.nil_recall:>6.2f} {scores.recall_at.get(30, 0.0):>6.3f} "
              f"{speed:>7.0f}")
    (args.cache / "scores.json").write_text(json.dumps({aida_name: aida.to_dict(), ncbi_name: ncbi.to_dict()},
                                                       indent=2))
    print(f"{aida_name}_zero_training_accuracy: {aida.accuracy:.4f}")
    print(f"{ncbi_name}_zero_training_acc1: {ncbi.accuracy:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
