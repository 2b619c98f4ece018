"""The linker's reranker stage: the cross-encoder rescores each uncertain mention's best candidates.

A mention is reranked when it has two or more candidates and its best first-stage probability is under
``skip_above``; its ``top_k`` best candidates are read by the `CrossEncoderReranker` with the mention in context,
and the two stages' scores are combined with the reranker's fitted weights. The probability mass of the reranked
candidates stays what the first stage gave them, so NIL and the other candidates keep theirs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from elkit.kb.base import KnowledgeBase
from elkit.linking.features import LinkInput
from elkit.linking.reranker import CrossEncoderReranker, RerankerSettings, RerankItem, mention_context

__all__ = ["entity_text", "rerank", "rerank_items"]


def entity_text(kb: KnowledgeBase, entity_id: str) -> str:
    """What the reranker reads for an entity: its name, its first type, then its description."""
    entity = kb.get_entity(entity_id)
    text = entity.name or entity_id.replace("_", " ")
    if entity.types and entity.types[0] not in ("", "UNK"):
        text = f"{text} ({entity.types[0]})"
    return f"{text}: {entity.description}" if entity.description else text


def rerank_items(
    inputs: Sequence[LinkInput],
    probabilities: Sequence[np.ndarray],
    settings: RerankerSettings,
    kb: KnowledgeBase,
    n_sents: int,
    training: bool = False,
) -> list[tuple[int, np.ndarray, RerankItem]]:
    """The reranker's input for each scored mention worth reranking: (index in `inputs`, candidate rows, item).

    Args:
        inputs: The scored mentions.
        probabilities: Their first-stage probabilities (candidates, then NIL).
        settings: ``top_k`` and ``skip_above``.
        kb: Gives the entities' texts.
        n_sents: Sentences either side of the mention in its context.
        training: Keep only mentions whose gold entity is a candidate, with the gold entity among their rows (it
            replaces the last one when it ranked lower), and set the items' ``gold``.
    """
    chosen = []
    for index, (item, found) in enumerate(zip(inputs, probabilities, strict=True)):
        count = len(item.candidates)
        if count < 2 or float(found[:count].max()) >= settings.skip_above:
            continue
        rows = np.argsort(-found[:count], kind="stable")[: settings.top_k]
        gold = -1
        if training:
            right = [row for row in item.gold if row < count]
            if not right:
                continue
            if not set(right) & set(rows.tolist()):
                rows[-1] = right[0]
            gold = next(position for position, row in enumerate(rows.tolist()) if row in right)
        first = np.log(np.clip(found[rows], 1e-8, None)).astype(np.float32)
        span = item.mention.span
        chosen.append((index, rows, RerankItem(mention_context(span.doc, span, n_sents),
                                               [entity_text(kb, item.candidates[row].entity_id) for row in rows],
                                               first, gold)))
    return chosen


def rerank(
    inputs: Sequence[LinkInput],
    probabilities: Sequence[np.ndarray],
    reranker: CrossEncoderReranker,
    settings: RerankerSettings,
    kb: KnowledgeBase,
    n_sents: int,
) -> list[np.ndarray]:
    """The probabilities after reranking (those of mentions not reranked are the same arrays)."""
    chosen = rerank_items(inputs, probabilities, settings, kb, n_sents)
    output = list(probabilities)
    if not chosen:
        return output
    items = [item for _, _, item in chosen]
    scores = reranker.scores(items, max_candidates=settings.max_candidates)
    for (index, rows, _), combined in zip(chosen, reranker.combine(items, scores), strict=True):
        reranked = output[index].copy()
        mass = float(reranked[rows].sum())
        reranked[rows] = mass * combined
        output[index] = reranked
    return output
