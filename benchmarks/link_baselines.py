"""Non-learned linking baselines, scored on the same candidates as elkit's linker.

- the count table: p(entity | mention) from the training documents' gold links (the mention as written, else its
  normalised form); ties and mentions unseen in training decided by the KB's alias prior (for AIDA, the PPR
  p(entity | alias) from Wikipedia anchors), then by popularity;
- the most popular candidate;
- MiniLM cosine: the KB entity whose name vector is nearest to the mention's embedding, over the whole KB (the
  KB needs vectors from `elkit kb embed`; it ignores the linker's candidates).

None answers NIL: they are compared on in-KB accuracy (a linked gold mention is right when the top-ranked
candidate is one of its gold ids).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from elkit.candidates import MentionTable
from elkit.doc import NIL, Candidate, Doc
from elkit.evaluation import LinkScores, score_links
from elkit.kb import KnowledgeBase
from elkit.linking import EntityLinker, strip_links

__all__ = ["count_table", "minilm_cosine", "popularity_ranking", "rank_candidates", "table_and_popularity",
           "table_ranking"]

Ranking = Callable[[str, Candidate], tuple[float, ...]]


def count_table(linker: EntityLinker, train: Sequence[Doc]) -> MentionTable:
    """The mention → entity counts of `train`'s gold links (ids resolved through the linker's KB)."""
    table = MentionTable(linker.normalizer)
    for doc in train:
        for span in doc.ents:
            if span.kb_id:
                entity = span.kb_id if span.kb_id == NIL else linker.kb.resolve(span.kb_id) or span.kb_id
                table.add("", span.text, entity)
    return table


def rank_candidates(linker: EntityLinker, gold: Sequence[Doc], ranking: Ranking) -> tuple[LinkScores, list[Doc]]:
    """Rank each mention's candidates (the linker's own) by `ranking`, highest first: (scores, predicted docs)."""
    predicted = strip_links(gold)
    inputs = linker.link_inputs(predicted)
    spans = [list(doc.ents) for doc in predicted]
    for item in inputs:
        ranked = sorted(item.candidates, key=lambda candidate: ranking(item.mention.text, candidate), reverse=True)
        span = spans[item.mention.doc][item.mention.position]
        spans[item.mention.doc][item.mention.position] = span.replace(
            kb_id=ranked[0].entity_id if ranked else NIL, candidates=tuple(ranked[:30]))
    for doc, found in zip(predicted, spans, strict=True):
        doc.ents = found
    return score_links(predicted, gold, resolve=linker.kb.resolve), predicted


def table_ranking(linker: EntityLinker, train: Sequence[Doc]) -> Ranking:
    """p(entity | mention) counted on `train` (as written, else normalised), then the KB prior, then popularity."""
    table = count_table(linker, train)
    infos = linker.entity_infos

    def by_table(text: str, candidate: Candidate) -> tuple[float, ...]:
        exact, normal = table.lookup(text)
        counts = exact if exact else normal
        total = sum(counts.values())
        share = counts.get(candidate.entity_id, 0) / total if total else 0.0
        return share, candidate.prior, infos(candidate.entity_id).popularity

    return by_table


def popularity_ranking(linker: EntityLinker) -> Ranking:
    """The candidate's popularity."""
    infos = linker.entity_infos
    return lambda _, candidate: (infos(candidate.entity_id).popularity,)


def table_and_popularity(linker: EntityLinker, train: Sequence[Doc], gold: Sequence[Doc]
                         ) -> tuple[LinkScores, LinkScores]:
    """(the count table with popularity backoff, the most popular candidate), on `gold` with the linker's candidates."""
    return (rank_candidates(linker, gold, table_ranking(linker, train))[0],
            rank_candidates(linker, gold, popularity_ranking(linker))[0])


def minilm_cosine(kb: KnowledgeBase, gold: Sequence[Doc]) -> LinkScores:
    """Link each gold mention to its nearest KB entity by the cosine of all-MiniLM-L6-v2 embeddings."""
    from elkit.encoders import TextEncoder

    predicted = strip_links(gold)
    texts = list(dict.fromkeys(span.text for doc in predicted for span in doc.ents))
    nearest = dict(zip(texts, kb.get_dense_candidates(TextEncoder().encode(texts, batch_size=128), 1), strict=True))
    for doc in predicted:
        doc.ents = [span.replace(kb_id=nearest[span.text][0].entity_id if nearest[span.text] else NIL,
                                 candidates=tuple(nearest[span.text])) for span in doc.ents]
    return score_links(predicted, gold, resolve=kb.resolve)
