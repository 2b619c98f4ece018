"""Linking time against document length: one document of 10 kB, 100 kB and 1 MB of real news text.

The documents are AIDA training documents joined (`Doc.from_docs`) until each size is reached (the last one cut at
a document boundary, so sizes are within one document of the target). Two systems link them:

- ``default``: the pipeline ``elkit link --entities`` builds (`create_simple`: sentencizer, zero-shot recognizer,
  KB alias mentions, general linker) over the AIDA KB, from the raw text;
- ``precomputed``: the same pipeline with the KB's entity texts and names encoded once beforehand
  (``create_simple(..., precompute_embeddings=True)``, cached under ``--cache``; the one-time cost is printed);
- ``trained``: the AIDA linker trained with configs/link_aida.toml (first stage, coherence on; the model of
  benchmarks/link_aida.py, trained here when its cache is empty) on the gold mentions of the same text.

Each document is linked once after a warm-up on a small document; time per character at 1 MB against 10 kB says
whether a stage grows faster than the text. Torch uses the threads `--threads` gives (default: all cores).

    .venv/bin/python benchmarks/scale_length.py [--sizes 10000,100000,1000000] [--systems default,trained]
        [--threads N]      # --systems default,precomputed,trained for all three

Last lines: link_1mb_seconds (the default pipeline), link_time_per_char_ratio_1mb_vs_10kb (the default pipeline),
then the same with a ``_trained`` suffix.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from elkit import create_simple
from elkit.corpora.aida import read_aida
from elkit.doc import Doc
from elkit.linking import EntityLinker, strip_links
from elkit.pipeline import Pipeline
from elkit.threads import set_threads
from link_aida import build_kb
from reranking import first_stage_config, static_vectors, without_reranker

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "aida"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def documents_of(sizes: list[int], corpus: list[Doc]) -> dict[int, Doc]:
    """For each size, the first training documents joined until the text is at least that long."""
    joined: dict[int, Doc] = {}
    for size in sizes:
        taken, length = [], 0
        for doc in corpus:
            if length >= size:
                break
            taken.append(doc)
            length += len(doc.text) + 2
        if length < size:
            raise SystemExit(f"the corpus has only {length:,} characters; {size:,} asked")
        joined[size] = strip_links([Doc.from_docs(taken)])[0]
    return joined


def trained_linker(cache: Path, kb_folder: Path, train: list[Doc]) -> EntityLinker:
    """The first-stage AIDA linker of link_aida.py (same cache), trained when it is not there."""
    from elkit.kb import open_kb
    from elkit.linking.training import train_linking

    model = cache / "model-aliases_ppr"
    if not (model / "model-best" / "manifest.json").is_file():
        config = without_reranker(ROOT / "configs" / "link_aida.toml", cache)
        dev = list(read_aida(DATA / "aida_testa.tsv"))
        started = time.perf_counter()
        train_linking(first_stage_config(config, kb_folder, static_vectors(), None), train, dev, model)
        log(f"trained the AIDA linker in {(time.perf_counter() - started) / 60:.1f} min")
    linker = Pipeline.from_disk(model / "model-best").get_pipe("entity_linker")
    assert isinstance(linker, EntityLinker)
    linker.reranker = None
    linker.set_kb(open_kb(kb_folder))
    return linker


def measure(name: str, run: Callable[[Doc], Doc], docs: dict[int, Doc], warm: Doc) -> dict[int, float]:
    """Seconds to link each document (after one warm-up call), printed as a table row per size."""
    run(warm.copy())
    seconds: dict[int, float] = {}
    for size, doc in docs.items():
        started = time.perf_counter()
        done = run(doc.copy())
        seconds[size] = time.perf_counter() - started
        linked = sum(1 for span in done.ents if span.kb_id and span.kb_id != "NIL")
        log(f"{name} {len(doc.text):>9,} chars: {seconds[size]:8.2f} s, {len(done.ents):,} mentions, {linked:,} linked")
        print(f"{name:<10} {len(doc.text):>11,} {len(done.ents):>9,} {linked:>9,} {seconds[size]:>9.2f} "
              f"{seconds[size] / len(doc.text) * 1e6:>10.1f}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="characters per document, comma-separated")
    parser.add_argument("--systems", default="default,trained")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/elkit-bench/link_aida"))
    args = parser.parse_args()
    set_threads(args.threads)
    sizes = sorted(int(size) for size in args.sizes.split(","))
    systems = [name.strip() for name in args.systems.split(",") if name.strip()]
    train = list(read_aida(DATA / "aida_train.tsv"))
    docs = documents_of(sizes, train + list(read_aida(DATA / "aida_testa.tsv")))
    warm = strip_links([Doc.from_docs(train[:2])])[0]
    kb_folder = args.cache / "kb-aliases_ppr"
    kb = build_kb(DATA / "kb" / "entities.jsonl", DATA / "kb" / "aliases_ppr.tsv", kb_folder)
    print(f"\n{'system':<10} {'characters':>11} {'mentions':>9} {'linked':>9} {'seconds':>9} {'µs/char':>10}")
    results: dict[str, dict[int, float]] = {}
    if "default" in systems:
        nlp = create_simple(kb=kb)
        nlp.max_length = max(nlp.max_length, 2 * sizes[-1])  # as a spaCy user raises nlp.max_length
        results["default"] = measure("default", lambda doc: nlp(doc.text), docs, warm)
    if "precomputed" in systems:
        started = time.perf_counter()
        nlp = create_simple(kb=kb, cache_dir=args.cache / "simple", precompute_embeddings=True, show_progress=True)
        log(f"entity vectors ready in {time.perf_counter() - started:.1f} s (built once per KB, then cached)")
        nlp.max_length = max(nlp.max_length, 2 * sizes[-1])
        results["precomputed"] = measure("precomputed", lambda doc: nlp(doc.text), docs, warm)
    if "trained" in systems:
        linker = trained_linker(args.cache, kb_folder, train)
        results["trained"] = measure("trained", linker, docs, warm)
    smallest, largest = sizes[0], sizes[-1]
    for name, seconds in results.items():
        suffix = "" if name == "default" else f"_{name}"
        per_char = {size: seconds[size] / len(docs[size].text) for size in sizes}
        label = "1mb" if largest == 1_000_000 else f"{largest}"
        print(f"link_{label}_seconds{suffix}: {seconds[largest]:.2f}")
        print(f"link_time_per_char_ratio_{label}_vs_{'10kb' if smallest == 10_000 else smallest}{suffix}: "
              f"{per_char[largest] / per_char[smallest]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
