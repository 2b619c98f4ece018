"""Corpus readers and writers: CoNLL, PubTator, AIDA TSV, Prodigy JSONL and spaCy DocBin. All stream."""

from elkit.corpora.aida import read_aida, write_aida
from elkit.corpora.base import MENTIONS_KEY, mentions
from elkit.corpora.conll import read_conll, write_conll
from elkit.corpora.docbin import doc_from_spacy, doc_to_spacy, read_docbin, write_docbin
from elkit.corpora.formats import FORMATS, CorpusFormat, detect_format, format_from_suffix, read_corpus, write_corpus
from elkit.corpora.jsonl import read_jsonl, write_jsonl
from elkit.corpora.pubtator import read_pubtator, split_ids, write_pubtator
from elkit.corpora.stats import CorpusStats, corpus_stats
from elkit.io.lines import OnError, ReadReport

__all__ = [
    "FORMATS",
    "MENTIONS_KEY",
    "CorpusFormat",
    "CorpusStats",
    "OnError",
    "ReadReport",
    "corpus_stats",
    "detect_format",
    "doc_from_spacy",
    "doc_to_spacy",
    "format_from_suffix",
    "mentions",
    "read_aida",
    "read_conll",
    "read_corpus",
    "read_docbin",
    "read_jsonl",
    "read_pubtator",
    "split_ids",
    "write_aida",
    "write_conll",
    "write_corpus",
    "write_docbin",
    "write_jsonl",
    "write_pubtator",
]
