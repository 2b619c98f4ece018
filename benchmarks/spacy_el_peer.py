"""spaCy 3.8's EntityLinker as the peer system for the AIDA CoNLL-YAGO linking benchmark.

The peer gets the same inputs as elkit's linker: the gold mentions (no NER), the AIDA KB (entities.jsonl) and
its alias table with priors (aliases_ppr.tsv). Its KB is a spaCy ``InMemoryLookupKB`` whose entity vectors are
all-MiniLM-L6-v2 embeddings of the entity labels (384 wide) and whose frequencies are the entities' in-link
counts. The linker is spaCy's default model (its own HashEmbedCNN tok2vec, ``incl_prior`` and ``incl_context``,
``n_sents=0``: the context is the mention's sentence), trained with ``nlp.update`` for a fixed wall-time budget,
keeping the model with the best in-KB accuracy on a 50-document slice of dev.

Training targets: spaCy's loss pulls the context encoding of every mention whose gold ``kb_id`` is non-empty
towards that entity's KB vector, and an id missing from the KB gives an all-zero target. Mentions whose gold id
is NIL or not in the KB therefore get an empty ``kb_id`` in the training references (they still sit in
``doc.ents``); at prediction time every gold mention, NIL ones included, is linked.

Scoring (``evaluate_spacy_linker``): in-KB accuracy over the gold mentions with a real id (a NIL or empty
prediction is wrong), NIL precision / recall (a prediction of "NIL" or "" is a NIL prediction), and mentions per
second over all gold mentions, timing only ``nlp.pipe``, with BLAS/OpenMP pools limited by threadpoolctl.

Run: ``.venv/bin/python benchmarks/spacy_el_peer.py [--max-minutes 12] [--cache /tmp/elkit-bench/spacy_el]``
(the KB and the trained model are cached under --cache; delete it to rebuild).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import spacy
from spacy.kb import InMemoryLookupKB, KnowledgeBase
from spacy.language import Language
from spacy.tokens import Doc as SpacyDoc
from spacy.tokens import Span as SpacySpan
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch
from spacy.vocab import Vocab

from elkit.corpora.aida import read_aida
from elkit.doc import NIL
from elkit.doc import Doc as ElkitDoc

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is installed in the project venv
    threadpool_limits = None

LABEL = "ENTITY"
VECTOR_WIDTH = 384
DEV_SLICE = 50
_KB_FOLDER = "kb"
_KB_STATS = "kb_stats.json"
_MODEL_FILES = ("config.cfg", "meta.json", "entity_linker/kb", "entity_linker/model")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- knowledge base --------------------------------------------------------------------------------------------


def _kb_complete(output_dir: Path) -> bool:
    kb_dir = output_dir / _KB_FOLDER
    return (output_dir / _KB_STATS).is_file() and (kb_dir / "contents").is_file() and (
        kb_dir / "strings.json").is_file()


def kb_loader(kb_dir: str | Path) -> Callable[[Vocab], KnowledgeBase]:
    """Return a function that loads the KB in ``kb_dir`` into a given vocab (for ``EntityLinker.set_kb``).

    Args:
        kb_dir: A folder written by ``InMemoryLookupKB.to_disk``.
    """
    path = Path(kb_dir)

    def load(vocab: Vocab) -> KnowledgeBase:
        kb = InMemoryLookupKB(vocab, entity_vector_length=VECTOR_WIDTH)
        kb.from_disk(path)
        return kb

    return load


def build_spacy_kb(entities_path: str | Path, aliases_path: str | Path, output_dir: str | Path) -> Path:
    """Build (or find cached) a spaCy ``InMemoryLookupKB`` for the AIDA KB.

    Entities come from entities.jsonl (freq = ``in_count``, vector = the MiniLM embedding of ``label``); aliases
    from aliases_ppr.tsv, grouped per alias. Rows naming an entity outside the KB are skipped and counted; an
    alias whose priors sum to more than 1 has them rescaled to sum to 1.

    Args:
        entities_path: entities.jsonl (fields entity_id, label, in_count, ...).
        aliases_path: aliases_ppr.tsv with the header ``alias, entity_id, in_count, prior``.
        output_dir: Cache folder; the KB is written to ``output_dir/kb`` and its counts to
            ``output_dir/kb_stats.json``. When both are there, nothing is rebuilt.

    Returns:
        The KB folder (load it with ``kb_loader``).
    """
    output_dir = Path(output_dir)
    kb_dir = output_dir / _KB_FOLDER
    if _kb_complete(output_dir):
        kb = kb_loader(kb_dir)(Vocab())
        log(f"KB: cached at {kb_dir} ({kb.get_size_entities()} entities, {kb.get_size_aliases()} aliases)")
        return kb_dir
    from elkit.encoders import TextEncoder  # imports torch; only needed when building

    started = time.perf_counter()
    ids: list[str] = []
    labels: list[str] = []
    freqs: list[float] = []
    with open(entities_path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            ids.append(record["entity_id"])
            labels.append(record.get("label") or record["entity_id"].replace("_", " "))
            freqs.append(float(record.get("in_count") or 0))
    log(f"KB: embedding {len(labels)} entity labels with all-MiniLM-L6-v2")
    vectors = TextEncoder().encode(labels, batch_size=256)
    if vectors.shape[1] != VECTOR_WIDTH:
        raise ValueError(f"encoder gives {vectors.shape[1]}-wide vectors, expected {VECTOR_WIDTH}")
    embed_seconds = time.perf_counter() - started
    vocab = Vocab()
    kb = InMemoryLookupKB(vocab, entity_vector_length=VECTOR_WIDTH)
    kb.set_entities(entity_list=ids, freq_list=freqs, vector_list=vectors.tolist())
    known = set(ids)

    grouped: dict[str, dict[str, float]] = {}
    rows = skipped_rows = 0
    skipped_entities: set[str] = set()
    with open(aliases_path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            rows += 1
            alias, entity = row["alias"], row["entity_id"]
            if entity not in known:
                skipped_rows += 1
                skipped_entities.add(entity)
                continue
            if not alias:
                continue
            priors = grouped.setdefault(alias, {})
            priors[entity] = priors.get(entity, 0.0) + float(row["prior"])
    rescaled = 0
    for alias, priors in grouped.items():
        total = sum(priors.values())
        probabilities = list(priors.values())
        if total > 1.0:
            rescaled += 1
            probabilities = [value / total * 0.99999 for value in probabilities]
        kb.add_alias(alias=alias, entities=list(priors), probabilities=probabilities)

    output_dir.mkdir(parents=True, exist_ok=True)
    kb.to_disk(kb_dir)
    stats = {
        "entities": kb.get_size_entities(),
        "aliases": kb.get_size_aliases(),
        "alias_rows": rows,
        "alias_rows_skipped_entity_not_in_kb": skipped_rows,
        "entities_skipped_not_in_kb": len(skipped_entities),
        "aliases_rescaled_prior_sum_over_1": rescaled,
        "embed_seconds": round(embed_seconds, 1),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (output_dir / _KB_STATS).write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    log("KB: " + ", ".join(f"{key} {value}" for key, value in stats.items()))
    return kb_dir


# --- documents ---------------------------------------------------------------------------------------------------


def to_spacy_docs(nlp: Language, elkit_docs: Iterable[ElkitDoc], *, with_kb_ids: bool = True) -> list[SpacyDoc]:
    """Convert elkit documents to spaCy Docs with the same tokens, sentences and gold mentions.

    Args:
        nlp: The pipeline whose vocab the Docs use.
        elkit_docs: Documents with ``words``, ``sentence_starts`` and gold ``ents``.
        with_kb_ids: Set each mention's ``kb_id_`` to its gold title ("NIL" for NIL mentions); when False the
            mentions carry no kb_id (the linker's input).

    Returns:
        One spaCy Doc per document; ``doc.ents`` hold the gold mentions labelled "ENTITY".
    """
    result = []
    for edoc in elkit_docs:
        words = edoc.words
        text, starts, ends = edoc.text, edoc.token_starts, edoc.token_ends
        spaces = [ends[i] < (starts[i + 1] if i + 1 < len(words) else len(text)) for i in range(len(words))]
        sentence_starts = set(edoc.sentence_starts or [0])
        sent_starts = [i in sentence_starts for i in range(len(words))]
        doc = SpacyDoc(nlp.vocab, words=words, spaces=spaces, sent_starts=sent_starts)
        doc.ents = [
            SpacySpan(doc, span.start, span.end, label=LABEL, kb_id=(span.kb_id or NIL) if with_kb_ids else "")
            for span in edoc.ents
        ]
        result.append(doc)
    return result


def _training_examples(nlp: Language, elkit_docs: Sequence[ElkitDoc], kb_ids: set[str]) -> list[Example]:
    """Examples whose reference keeps only kb_ids that are in the KB (others: empty, so no zero-vector target)."""
    examples = []
    predicted_docs = to_spacy_docs(nlp, elkit_docs, with_kb_ids=False)
    for edoc, predicted in zip(elkit_docs, predicted_docs, strict=True):
        reference = to_spacy_docs(nlp, [edoc])[0]
        reference.ents = [
            SpacySpan(reference, ent.start, ent.end, label=LABEL, kb_id=ent.kb_id_ if ent.kb_id_ in kb_ids else "")
            for ent in reference.ents
        ]
        examples.append(Example(predicted, reference))
    return examples


# --- evaluation --------------------------------------------------------------------------------------------------


def evaluate_spacy_linker(nlp: Language, elkit_docs: Sequence[ElkitDoc], threads: int = 1) -> dict[str, Any]:
    """Link the gold mentions of ``elkit_docs`` with ``nlp`` and score the links.

    The Docs are built (gold ents, no kb_ids) before timing; only ``nlp.pipe`` is timed, with BLAS/OpenMP pools
    limited to ``threads`` through threadpoolctl (spaCy's own ops are single-threaded).

    Args:
        nlp: A pipeline with a trained ``entity_linker``.
        elkit_docs: Gold documents.
        threads: Thread limit for native pools while timing.

    Returns:
        linked_mentions (gold mentions with a real id), accuracy (correct among them; NIL or empty predicted is
        wrong), nil_mentions, nil_precision, nil_recall, mentions_per_second (all gold mentions / seconds),
        seconds, documents, threadpoolctl (whether the thread limit was applied).
    """
    docs = to_spacy_docs(nlp, elkit_docs, with_kb_ids=False)
    if threadpool_limits is not None:
        with threadpool_limits(limits=threads):
            started = time.perf_counter()
            predicted = list(nlp.pipe(docs, batch_size=32))
            seconds = time.perf_counter() - started
    else:
        started = time.perf_counter()
        predicted = list(nlp.pipe(docs, batch_size=32))
        seconds = time.perf_counter() - started
    linked = correct = nil_gold = nil_predicted = nil_both = mentions = 0
    for edoc, doc in zip(elkit_docs, predicted, strict=True):
        by_span = {(ent.start, ent.end): ent.kb_id_ for ent in doc.ents}
        for span in edoc.ents:
            mentions += 1
            gold = span.kb_id or NIL
            guess = by_span.get((span.start, span.end), "")
            guess_nil = guess in ("", NIL)
            nil_predicted += guess_nil
            if gold == NIL:
                nil_gold += 1
                nil_both += guess_nil
            else:
                linked += 1
                correct += (not guess_nil) and guess == gold
    return {
        "documents": len(predicted),
        "linked_mentions": linked,
        "accuracy": correct / linked if linked else 0.0,
        "nil_mentions": nil_gold,
        "nil_precision": nil_both / nil_predicted if nil_predicted else 0.0,
        "nil_recall": nil_both / nil_gold if nil_gold else 0.0,
        "mentions_per_second": mentions / seconds if seconds > 0 else 0.0,
        "seconds": seconds,
        "threadpoolctl": threadpool_limits is not None,
    }


# --- training ----------------------------------------------------------------------------------------------------


def _model_complete(output_dir: Path) -> bool:
    best = output_dir / "model-best"
    if not all((best / name).exists() for name in _MODEL_FILES):
        return False
    try:
        history = json.loads((output_dir / "training.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(history.get("finished"))


def _blank_linker(kb_dir: Path) -> Language:
    nlp = spacy.blank("en")
    linker = nlp.add_pipe("entity_linker", config={
        "entity_vector_length": VECTOR_WIDTH, "incl_prior": True, "incl_context": True, "n_sents": 0,
    })
    linker.set_kb(kb_loader(kb_dir))  # type: ignore[attr-defined]
    return nlp


def _save(nlp: Language, target: Path) -> None:
    staging = target.with_name(target.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    nlp.to_disk(staging)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def train_spacy_linker(
    train_docs: Sequence[ElkitDoc],
    dev_docs: Sequence[ElkitDoc],
    kb_dir: str | Path,
    output_dir: str | Path,
    max_minutes: float,
    seed: int = 0,
    *,
    eval_minutes: float = 1.0,
    batch_size: int = 8,
    dropout: float = 0.1,
) -> Path:
    """Train spaCy's entity linker on gold mentions for ``max_minutes`` of wall time, keeping the best model.

    Args:
        train_docs: Training documents with gold mentions and ids.
        dev_docs: Development documents; the first 50 are used to pick the best model (in-KB accuracy).
        kb_dir: The KB folder from ``build_spacy_kb``.
        output_dir: Where ``model-best`` and ``training.json`` (the evaluation history) go. When a finished run is
            already there, training is skipped.
        max_minutes: Training wall-time budget (KB loading and initialisation not counted).
        seed: Random seed (shuffling, initial weights, dropout).
        eval_minutes: Minutes of training between evaluations.
        batch_size: Documents per ``nlp.update``.
        dropout: Dropout rate.

    Returns:
        The ``model-best`` folder.
    """
    output_dir = Path(output_dir)
    best_dir = output_dir / "model-best"
    if _model_complete(output_dir):
        log(f"linker: cached at {best_dir}")
        return best_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    fix_random_seed(seed)
    nlp = _blank_linker(Path(kb_dir))
    kb_ids = set(nlp.get_pipe("entity_linker").kb.get_entity_strings())  # type: ignore[attr-defined]
    examples = _training_examples(nlp, train_docs, kb_ids)
    dev_slice = list(dev_docs[:DEV_SLICE])
    optimizer = nlp.initialize(get_examples=lambda: examples)
    rng = random.Random(seed)
    history: list[dict[str, Any]] = []
    best = -1.0
    epoch = step = docs_seen = 0
    loss_sum = 0.0
    loss_steps = 0
    started = time.perf_counter()
    next_eval = eval_minutes
    budget_over = False
    settings = {"max_minutes": max_minutes, "eval_minutes": eval_minutes, "seed": seed, "batch_size": batch_size,
                "dropout": dropout, "train_docs": len(train_docs), "dev_slice_docs": len(dev_slice),
                "n_sents": 0, "incl_prior": True, "incl_context": True}

    def evaluate(elapsed: float) -> None:
        nonlocal best, loss_sum, loss_steps
        scores = evaluate_spacy_linker(nlp, dev_slice)
        loss = loss_sum / loss_steps if loss_steps else 0.0
        improved = scores["accuracy"] > best
        if improved:
            best = scores["accuracy"]
            _save(nlp, best_dir)
        history.append({
            "elapsed_minutes": round(elapsed, 2), "epoch": epoch, "step": step, "docs_seen": docs_seen,
            "loss": round(loss, 5), "dev_accuracy": round(scores["accuracy"], 4),
            "dev_nil_recall": round(scores["nil_recall"], 4), "best": improved,
        })
        print(f"{elapsed:6.2f} min  epoch {epoch:3d}  step {step:5d}  loss {loss:.5f}  "
              f"dev50 accuracy {scores['accuracy']:.4f}{'  *' if improved else ''}", flush=True)
        loss_sum, loss_steps = 0.0, 0
        _write_history(output_dir, history, finished=False, settings=settings)

    while not budget_over:
        epoch += 1
        order = list(examples)
        rng.shuffle(order)
        for batch in minibatch(order, size=batch_size):
            losses: dict[str, float] = {}
            nlp.update(batch, drop=dropout, sgd=optimizer, losses=losses)
            step += 1
            docs_seen += len(batch)
            loss_sum += losses.get("entity_linker", 0.0)
            loss_steps += 1
            elapsed = (time.perf_counter() - started) / 60
            if elapsed >= max_minutes:
                budget_over = True
                break
            if elapsed >= next_eval:
                evaluate(elapsed)
                next_eval = (time.perf_counter() - started) / 60 + eval_minutes
    evaluate((time.perf_counter() - started) / 60)
    _write_history(output_dir, history, finished=True, settings=settings)
    return best_dir


def _write_history(output_dir: Path, history: list[dict[str, Any]], *, finished: bool,
                   settings: dict[str, Any]) -> None:
    best = max((entry["dev_accuracy"] for entry in history), default=None)
    payload = {"finished": finished, "settings": settings, "best_dev_accuracy": best, "history": history}
    (output_dir / "training.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


# --- command line ------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    data = Path("../shared/data/aida")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=data / "aida_train.tsv")
    parser.add_argument("--dev", type=Path, default=data / "aida_testa.tsv")
    parser.add_argument("--entities", type=Path, default=data / "kb" / "entities.jsonl")
    parser.add_argument("--aliases", type=Path, default=data / "kb" / "aliases_ppr.tsv")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/elkit-bench/spacy_el"))
    parser.add_argument("--max-minutes", type=float, default=12.0)
    parser.add_argument("--eval-minutes", type=float, default=1.0, help="training minutes between evaluations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="thread limit while timing")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N train and dev docs (smoke test)")
    args = parser.parse_args(argv)

    total_started = time.perf_counter()
    kb_dir = build_spacy_kb(args.entities, args.aliases, args.cache)
    train_docs = list(read_aida(args.train))
    dev_docs = list(read_aida(args.dev))
    if args.limit:
        train_docs, dev_docs = train_docs[: args.limit], dev_docs[: args.limit]
    log(f"data: {len(train_docs)} train docs, {len(dev_docs)} dev docs")
    model_dir = train_spacy_linker(train_docs, dev_docs, kb_dir, args.cache / "linker", args.max_minutes,
                                   seed=args.seed, eval_minutes=args.eval_minutes)
    nlp = spacy.load(model_dir)
    scores = evaluate_spacy_linker(nlp, dev_docs, threads=args.threads)
    if not scores["threadpoolctl"]:
        log("note: threadpoolctl is not installed; native thread pools were not limited")
    print(f"spacy_accuracy: {scores['accuracy']:.4f}")
    print(f"spacy_nil_precision: {scores['nil_precision']:.4f}")
    print(f"spacy_nil_recall: {scores['nil_recall']:.4f}")
    print(f"spacy_mentions_per_second: {scores['mentions_per_second']:.1f}")
    print(f"spacy_linked_mentions: {scores['linked_mentions']}")
    print(f"spacy_nil_mentions: {scores['nil_mentions']}")
    print(f"spacy_seconds: {scores['seconds']:.2f}")
    print(f"total_wall_minutes: {(time.perf_counter() - total_started) / 60:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
