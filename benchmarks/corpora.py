"""Corpus counts and lossless round trips on the shared corpora.

Checks that ``elkit stats`` reproduces the counts of the PROVENANCE files, and that every corpus survives
format → Doc → same format byte for byte, Doc → JSONL → Doc → JSONL, and Doc → spaCy DocBin → Doc (and
DocBin → Doc → DocBin) with tokens, entities, links and sentences unchanged. Times elkit's readers against
spaCy's own CoNLL converter reading the same file, in the same run.

Run: ``.venv/bin/python benchmarks/corpora.py [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from elkit.corpora import corpus_stats, read_corpus, read_jsonl, write_jsonl
from elkit.corpora.docbin import doc_from_spacy, doc_to_spacy, read_docbin, write_docbin
from elkit.corpora.formats import write_corpus
from elkit.doc import Doc

ROOT = Path(__file__).resolve().parents[1]

# (file, format, expected counts from the PROVENANCE files)
CORPORA = [
    ("conll2003/train.txt", "conll", {"documents": 946, "sentences": 14041, "entities": 23499}),
    ("conll2003/valid.txt", "conll", {"documents": 216, "sentences": 3250, "entities": 5942}),
    ("aida/aida_train.tsv", "aida", {"documents": 946, "entities": 23396, "linked": 18541}),
    ("aida/aida_testa.tsv", "aida", {"documents": 216, "entities": 5917, "linked": 4791}),
    ("ncbi_disease/NCBItrainset_corpus.txt", "ncbi", {"documents": 593, "entities": 5145}),
    ("ncbi_disease/NCBIdevelopset_corpus.txt", "ncbi", {"documents": 100, "entities": 787}),
    ("bc5cdr/CDR_TrainingSet.PubTator.txt", "bc5cdr", {"documents": 500}),
    ("bc5cdr/CDR_DevelopmentSet.PubTator.txt", "bc5cdr", {"documents": 500}),
    ("crossner/politics/train.txt", "conll", {"sentences": 200}),
]
FORMAT_OF = {"conll": "conll", "aida": "aida", "ncbi": "pubtator", "bc5cdr": "pubtator"}


def signature(doc: Doc) -> tuple:
    """What must survive a round trip: text, tokens, sentences, entities with links."""
    return (doc.text, doc.token_starts, doc.token_ends, doc.sentence_starts,
            [(span.start, span.end, span.label, span.kb_id) for span in doc.ents])


def check_same_format(path: Path, format: str, docs: list) -> bool:
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "out"
        write_corpus(docs, output, format)
        # Blank lines before the first record or after the last (NCBI files start with one) are not content.
        return output.read_text(encoding="utf-8").strip("\n") == path.read_text(encoding="utf-8").strip("\n")


def check_jsonl(docs: list) -> bool:
    first = io.StringIO()
    write_jsonl(docs, first)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "docs.jsonl"
        path.write_text(first.getvalue(), encoding="utf-8")
        again = list(read_jsonl(path))
    second = io.StringIO()
    write_jsonl(again, second)
    same_tasks = [json.loads(line) for line in first.getvalue().splitlines()] == [
        json.loads(line) for line in second.getvalue().splitlines()]
    same_docs = all(
        (a.text, a.words, [(s.start, s.end, s.label, s.kb_id) for s in a.ents])
        == (b.text, b.words, [(s.start, s.end, s.label, s.kb_id) for s in b.ents])
        for a, b in zip(docs, again, strict=True)
    )
    return same_tasks and same_docs


def check_docbin(docs: list) -> tuple[bool, bool]:
    import spacy

    vocab = spacy.blank("en").vocab
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "docs.spacy"
        write_docbin(docs, path)
        back = list(read_docbin(path))
    elkit_first = all(signature(a) == signature(b) for a, b in zip(docs, back, strict=True))
    spacy_docs = [doc_to_spacy(doc, vocab) for doc in docs]
    spacy_again = [doc_to_spacy(doc_from_spacy(spacy_doc), vocab) for spacy_doc in spacy_docs]

    def spacy_signature(doc: Any) -> tuple:
        return ([t.text_with_ws for t in doc], [(e.start, e.end, e.label_, e.kb_id_) for e in doc.ents],
                [s.start for s in doc.sents] if doc.has_annotation("SENT_START") else None)

    spacy_first = all(spacy_signature(a) == spacy_signature(b) for a, b in zip(spacy_docs, spacy_again, strict=True))
    return elkit_first, spacy_first


def time_spacy_conll(path: Path) -> float:
    """SpaCy's own converter (``spacy convert``'s CoNLL-NER reader, its default of one sentence per doc)."""
    from spacy.training.converters import conll_ner_to_docs

    text = path.read_text(encoding="utf-8")
    started = time.perf_counter()
    list(conll_ner_to_docs(text, n_sents=1, no_print=True))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    arguments = parser.parse_args()
    failures = 0
    rows = []
    all_same, all_jsonl, all_docbin = True, True, True
    conll_ratio = None
    for relative, kind, expected in CORPORA:
        path = arguments.data / relative
        format = FORMAT_OF[kind]
        started = time.perf_counter()
        docs = list(read_corpus(path, format))
        read_seconds = time.perf_counter() - started
        counts = corpus_stats(docs).to_dict()
        mismatches = {key: (counts[key], value) for key, value in expected.items() if counts[key] != value}
        failures += bool(mismatches)
        same = check_same_format(path, format, docs)
        jsonl = check_jsonl(docs)
        docbin_elkit, docbin_spacy = check_docbin(docs)
        all_same &= same
        all_jsonl &= jsonl
        all_docbin &= docbin_elkit and docbin_spacy
        if relative == "conll2003/train.txt":
            conll_ratio = time_spacy_conll(path) / read_seconds
        rows.append((relative, counts, mismatches, same, jsonl, docbin_elkit, docbin_spacy, read_seconds))
    print(f"{'file':42} {'docs':>6} {'sents':>7} {'tokens':>8} {'ents':>7} {'linked':>7} "
          f"{'counts':>7} {'same':>5} {'jsonl':>5} {'bin→':>5} {'→bin':>5} {'read s':>7}")
    for relative, counts, mismatches, same, jsonl, docbin_elkit, docbin_spacy, seconds in rows:
        print(f"{relative:42} {counts['documents']:>6,} {counts['sentences']:>7,} {counts['tokens']:>8,} "
              f"{counts['entities']:>7,} {counts['linked']:>7,} {'ok' if not mismatches else 'WRONG':>7} "
              f"{same!s:>5} {jsonl!s:>5} {docbin_elkit!s:>5} {docbin_spacy!s:>5} {seconds:>7.2f}")
        for key, (found, wanted) in mismatches.items():
            print(f"    {key}: found {found:,}, PROVENANCE says {wanted:,}")
    print(f"provenance_counts_match: {failures == 0}")
    print(f"roundtrip_same_format_lossless: {all_same}")
    print(f"roundtrip_jsonl_lossless: {all_jsonl}")
    print(f"roundtrip_docbin_lossless: {all_docbin}")
    print(f"conll_read_speed_ratio_vs_spacy_converter: {conll_ratio:.2f}")


if __name__ == "__main__":
    main()
