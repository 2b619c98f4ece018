"""Aliases counted from the linked mentions of a corpus."""

import pytest

from elkit.corpora.base import MENTIONS_KEY
from elkit.doc import NIL, Doc
from elkit.errors import FormatError
from elkit.kb import Entity, KBBuilder
from elkit.kb.enrich import mention_alias_counts

WORDS = ["breast", "or", "ovarian", "cancer", "and", "colon", "cancer", "but", "not", "gout", "or", "Colon", "Cancer"]


def linked_doc():
    doc = Doc.from_words(WORDS)
    doc.ents = [
        doc.span(0, 4, "Disease", "D1|D2"),
        doc.span(5, 7, "Disease", "D3"),
        doc.span(9, 10, "Disease", NIL),
        doc.span(11, 13, "Disease", "D3"),
    ]
    return doc


def test_counts_mention_entity_pairs():
    unlinked = Doc.from_words(["colon", "cancer"])
    unlinked.ents = [unlinked.span(0, 2, "Disease")]
    counts = mention_alias_counts([linked_doc(), linked_doc(), unlinked])
    assert counts == {
        ("breast or ovarian cancer", "D1"): 2,  # a composite id counts for each part
        ("breast or ovarian cancer", "D2"): 2,
        ("colon cancer", "D3"): 2,
        ("Colon Cancer", "D3"): 2,  # the mention text is kept as written
    }


def test_counts_overlapping_mentions_from_the_span_group():
    doc = Doc.from_words(["colon", "cancer", "cells"])
    doc.spans[MENTIONS_KEY] = [doc.span(0, 2, "Disease", "D3"), doc.span(0, 3, "Cell", "C1+C2")]
    doc.ents = [doc.span(0, 3, "Cell", "C1+C2")]
    assert mention_alias_counts([doc]) == {
        ("colon cancer", "D3"): 1,
        ("colon cancer cells", "C1"): 1,
        ("colon cancer cells", "C2"): 1,
    }


def test_counts_feed_a_builder():
    builder = KBBuilder(on_error="skip")
    for entity_id in ("D1", "D2", "D3"):
        builder.add_entity(Entity(entity_id))
    counts = mention_alias_counts([linked_doc()])
    counts[("colon cancer", "D404")] = 3
    assert builder.add_alias_counts(counts, "train.pubtator") == 4
    index = builder.build()
    assert {candidate.entity_id: candidate.prior for candidate in index.exact("breast or ovarian cancer")} == {
        "D1": 0.5,
        "D2": 0.5,
    }
    assert builder.report.counts == {"unknown entity": 1}
    [example] = builder.report.examples["unknown entity"]
    assert example.startswith("train.pubtator") and example.endswith("alias 'colon cancer' names unknown entity 'D404'")


def test_strict_counts_name_the_corpus():
    builder = KBBuilder()
    builder.add_entity(Entity("D1"))
    with pytest.raises(FormatError, match="names unknown entity 'D9'") as error:
        builder.add_alias_counts({("gout", "D9"): 1}, "train.pubtator")
    assert (error.value.path, error.value.field) == ("train.pubtator", "entity_id")
