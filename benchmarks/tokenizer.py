"""Compare elkit's tokenizer with spaCy's blank English tokenizer on the CoNLL-2003 validation documents.

Each CoNLL document is re-joined into one text (tokens joined by single spaces, sentences by newlines). Both
tokenizers run over all texts in the same process, interleaved, with one warm-up pass each; the best of the
timed repetitions counts. The last line printed is ``tokenizer_speed_ratio_vs_spacy: X`` where X is elkit's
tokens per second divided by spaCy's.

Run it from the project root::

    .venv/bin/python benchmarks/tokenizer.py
    .venv/bin/python benchmarks/tokenizer.py --data path/to/valid.txt --repeats 7
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = PROJECT_ROOT / ".." / "shared" / "data" / "conll2003" / "valid.txt"

try:
    from elkit.tokenize import Tokenizer
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(PROJECT_ROOT / "src"))
    from elkit.tokenize import Tokenizer


def read_documents(path: Path) -> list[str]:
    """Read a CoNLL-2003 file and return one text per document."""
    documents: list[list[list[str]]] = []
    sentence: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if not fields:
                if sentence and documents:
                    documents[-1].append(sentence)
                sentence = []
                continue
            if fields[0] == "-DOCSTART-":
                documents.append([])
                continue
            if not documents:
                documents.append([])
            sentence.append(fields[0])
    if sentence and documents:
        documents[-1].append(sentence)
    return ["\n".join(" ".join(words) for words in sentences) for sentences in documents if sentences]


def time_run(tokenize: Callable[[str], object], texts: list[str]) -> float:
    """Return the seconds ``tokenize`` takes over all texts."""
    started = time.perf_counter()
    for text in texts:
        tokenize(text)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CoNLL-2003 file (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per tokenizer")
    arguments = parser.parse_args()

    import spacy

    texts = read_documents(arguments.data.resolve())
    characters = sum(map(len, texts))
    print(f"data: {arguments.data.resolve()}")
    print(f"documents: {len(texts)}, characters: {characters}")

    tokenizer = Tokenizer()
    nlp = spacy.blank("en")

    def run_elkit(text: str) -> object:
        return tokenizer(text)

    def run_spacy(text: str) -> object:
        return nlp.make_doc(text)

    elkit_offsets = [list(zip(*tokenizer.tokenize_offsets(text), strict=True)) for text in texts]
    spacy_docs = [nlp.make_doc(text) for text in texts]
    spacy_offsets = [
        [(token.idx, token.idx + len(token.text)) for token in doc if not token.is_space] for doc in spacy_docs
    ]
    elkit_tokens = sum(map(len, elkit_offsets))
    # spaCy also makes a token of whitespace other than one space (the newlines); they are counted as produced
    spacy_tokens = sum(map(len, spacy_docs))
    spacy_word_tokens = sum(map(len, spacy_offsets))

    identical = sum(mine == theirs for mine, theirs in zip(elkit_offsets, spacy_offsets, strict=True))
    elkit_boundaries = spacy_boundaries = shared_boundaries = 0
    for mine, theirs in zip(elkit_offsets, spacy_offsets, strict=True):
        my_boundaries = {offset for span in mine for offset in span}
        their_boundaries = {offset for span in theirs for offset in span}
        elkit_boundaries += len(my_boundaries)
        spacy_boundaries += len(their_boundaries)
        shared_boundaries += len(my_boundaries & their_boundaries)

    differences: Counter[str] = Counter()
    for text, mine, theirs in zip(texts, elkit_offsets, spacy_offsets, strict=True):
        their_spans = set(theirs)
        differences.update(text[start:end] for start, end in mine if (start, end) not in their_spans)

    cold_started = time.perf_counter()
    cold_tokenizer = Tokenizer()
    for text in texts:
        cold_tokenizer(text)
    cold_seconds = time.perf_counter() - cold_started

    elkit_times: list[float] = []
    spacy_times: list[float] = []
    time_run(run_elkit, texts)  # warm-up
    time_run(run_spacy, texts)
    for _ in range(arguments.repeats):
        elkit_times.append(time_run(run_elkit, texts))
        spacy_times.append(time_run(run_spacy, texts))
    elkit_seconds = min(elkit_times)
    spacy_seconds = min(spacy_times)
    elkit_speed = elkit_tokens / elkit_seconds
    spacy_speed = spacy_tokens / spacy_seconds

    print(f"timing: best of {arguments.repeats} after one warm-up pass each, interleaved")
    print()
    print(f"{'tokenizer':<26}{'tokens':>10}{'seconds':>12}{'tokens/s':>14}")
    print(f"{'elkit Tokenizer':<26}{elkit_tokens:>10}{elkit_seconds:>12.4f}{elkit_speed:>14,.0f}")
    print(f"{'spacy.blank(en) tokenizer':<26}{spacy_tokens:>10}{spacy_seconds:>12.4f}{spacy_speed:>14,.0f}")
    print(
        f"{'elkit, first pass (cold)':<26}{elkit_tokens:>10}{cold_seconds:>12.4f}"
        f"{elkit_tokens / cold_seconds:>14,.0f}"
    )
    print()
    print(f"spaCy tokens that are not whitespace: {spacy_word_tokens}")
    common = ", ".join(f"{token!r} x{count}" for token, count in differences.most_common(5))
    print(f"elkit tokens that spaCy splits differently: {differences.total()} (most frequent: {common})")
    print(f"documents with identical tokens: {identical}/{len(texts)} ({identical / len(texts):.3f})")
    print(
        f"elkit token boundaries that are spaCy boundaries: {shared_boundaries}/{elkit_boundaries} "
        f"({shared_boundaries / max(elkit_boundaries, 1):.4f})"
    )
    print(
        f"spaCy token boundaries that are elkit boundaries: {shared_boundaries}/{spacy_boundaries} "
        f"({shared_boundaries / max(spacy_boundaries, 1):.4f})"
    )
    print(f"tokenizer_speed_ratio_vs_spacy: {elkit_speed / spacy_speed:.2f}")


if __name__ == "__main__":
    main()
