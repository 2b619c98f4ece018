"""Compare elkit's tokenizer with spaCy's blank tokenizers: CoNLL-2003 valid in English, then seven languages.

Each CoNLL document is re-joined into one text (tokens joined by single spaces, sentences by newlines). Both
tokenizers run over all texts in the same process, interleaved, with one warm-up pass each; the best of the
timed repetitions counts.

Then, for en, de, fr, it, es, zh and ja, elkit's tokenizer with that ``lang`` against ``spacy.blank(lang)`` on the
sentences of benchmarks/language_texts.py (written for this benchmark), each repeated 200 times: boundary
agreement (F1 of token boundary offsets) and the speed ratio. spaCy's Japanese needs SudachiPy; without it the
row says so. Chinese in spaCy splits into characters by default, as elkit does.

Last lines: ``tokenizer_boundary_agreement_LANG`` and ``tokenizer_speed_ratio_LANG`` per language, then
``tokenizer_speed_ratio_vs_spacy`` (CoNLL, English).

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


def boundaries(offsets: list[tuple[int, int]]) -> set[int]:
    """Every token start and end offset."""
    return {offset for span in offsets for offset in span}


def compare_languages(repeats: int) -> list[str]:
    """Per language: agreement with spacy.blank(lang) and the speed ratio; returns the headline lines."""
    import spacy

    from language_texts import TEXTS

    lines: list[str] = []
    print(f"\n{'lang':<6}{'agreement':>10}{'elkit tok/s':>14}{'spaCy tok/s':>14}{'ratio':>8}  differences")
    for lang, sentences in TEXTS.items():
        texts = sentences * 200
        tokenizer = Tokenizer(lang=lang)
        try:
            nlp = spacy.blank(lang)
            nlp.make_doc(sentences[0])
        except Exception as error:  # spaCy's ja needs SudachiPy, which this machine may lack
            print(f"{lang:<6}{'':>10}  spaCy blank({lang!r}) cannot run here: {type(error).__name__}: {error}")
            continue
        mine = [list(zip(*tokenizer.tokenize_offsets(text), strict=True)) for text in sentences]
        theirs = [[(token.idx, token.idx + len(token.text)) for token in nlp.make_doc(text) if not token.is_space]
                  for text in sentences]
        shared = sum(len(boundaries(a) & boundaries(b)) for a, b in zip(mine, theirs, strict=True))
        total = sum(len(boundaries(a)) + len(boundaries(b)) for a, b in zip(mine, theirs, strict=True))
        agreement = 2 * shared / total
        different = [text[start:end] for text, spans, other in zip(sentences, mine, theirs, strict=True)
                     for start, end in spans if (start, end) not in set(other)]
        elkit_tokens = sum(len(tokenizer(text)) for text in texts)
        spacy_tokens = sum(len(nlp.make_doc(text)) for text in texts)
        elkit_times: list[float] = []
        spacy_times: list[float] = []
        for _ in range(repeats):  # interleaved, so a busy moment of the machine hits both
            elkit_times.append(time_run(tokenizer, texts))
            spacy_times.append(time_run(nlp.make_doc, texts))
        elkit_best = min(elkit_times)
        spacy_best = min(spacy_times)
        ratio = (elkit_tokens / elkit_best) / (spacy_tokens / spacy_best)
        print(f"{lang:<6}{agreement:>10.4f}{elkit_tokens / elkit_best:>14,.0f}{spacy_tokens / spacy_best:>14,.0f}"
              f"{ratio:>8.2f}  {', '.join(repr(token) for token in different[:6])}")
        lines += [f"tokenizer_boundary_agreement_{lang}: {agreement:.4f}", f"tokenizer_speed_ratio_{lang}: {ratio:.2f}"]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CoNLL-2003 file (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per tokenizer")
    parser.add_argument("--no-languages", action="store_true", help="only the CoNLL comparison")
    arguments = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))

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
    headlines = [] if arguments.no_languages else compare_languages(arguments.repeats)
    print()
    for line in headlines:
        print(line)
    print(f"tokenizer_speed_ratio_vs_spacy: {elkit_speed / spacy_speed:.2f}")


if __name__ == "__main__":
    main()
