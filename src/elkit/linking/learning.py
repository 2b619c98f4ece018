"""What the linker learns from gold documents: its tables at initialisation, and the loss of an update step.

Initialisation reads the gold documents once: the span labels and entity types the scorer knows, the mention →
entity counts (`MentionTable`), static word vectors with idf weights, each entity's learned context vector and
the mention memory. Training documents are grouped in blocks of ``held_out_block`` consecutive documents; while
training, a mention's features leave its block out of every table.

An update step is a listwise cross-entropy over each mention's candidates and NIL, on the first pass and (with
coherence) again on the second.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from elkit.candidates import MentionTable
from elkit.devices import to_numpy
from elkit.doc import NIL, Candidate, Doc, Example
from elkit.errors import DataError
from elkit.kb.base import KnowledgeBase
from elkit.kb.normalize import AliasNormalizer
from elkit.linking.abbreviations import expand, find_abbreviations
from elkit.linking.context import ContextVectors, sentence_bounds
from elkit.linking.features import LinkInput, entity_name
from elkit.linking.scorer import LinkScorer, make_batch, probabilities_from_logits
from elkit.linking.settings import EntityLinkerSettings
from elkit.linking.tables import EntityContexts, MentionMemory, add_pattern_contexts, document_key, name_pattern

__all__ = [
    "LearnedTables",
    "block_keys",
    "context_vectors",
    "gold_ids",
    "gold_rows",
    "learn_tables",
    "listwise_loss",
    "reference",
    "training_step",
]

Coherence = Callable[[Sequence[LinkInput], Sequence[np.ndarray]], list[LinkInput]]
"""Fills the coherence features of inputs from first-pass probabilities (`add_coherence` with its arguments)."""


def reference(item: Example | Doc) -> Doc:
    """The gold document of an example (a document is its own).

    Raises:
        DataError: Neither an Example nor a Doc.
    """
    if isinstance(item, Example):
        return item.reference
    if isinstance(item, Doc):
        return item
    raise DataError(f"expected an Example or a Doc, got {type(item).__name__}")


def gold_ids(kb_id: str, kb: KnowledgeBase) -> list[str]:
    """The KB ids a gold ``kb_id`` stands for: itself, or the parts of a composite id ("D1|D2", "D1+D2")."""
    resolved = kb.resolve(kb_id)
    if resolved is not None:
        return [resolved]
    parts = [part for part in kb_id.replace("+", "|").split("|") if part]
    found = [kb.resolve(part) for part in parts] if len(parts) > 1 else []
    return [part for part in found if part is not None]


def gold_rows(kb_id: str, candidates: Sequence[Candidate], kb: KnowledgeBase) -> tuple[int, ...]:
    """The candidate rows a gold ``kb_id`` makes right (the NIL slot, ``len(candidates)``, for NIL)."""
    if kb_id == NIL:
        return (len(candidates),)
    wanted = set(gold_ids(kb_id, kb))
    return tuple(row for row, candidate in enumerate(candidates) if candidate.entity_id in wanted)


def block_keys(docs: Sequence[Doc], block_size: int) -> dict[str, str]:
    """Each training document's key (`document_key`) → the key of its block of `block_size` consecutive documents."""
    block_size = max(1, block_size)
    return {document_key(doc): f"block-{number // block_size}" for number, doc in enumerate(docs)}


@dataclass
class LearnedTables:
    """What initialisation learned from the gold documents (besides the mention counts, filled in place).

    Attributes:
        labels: The span labels the scorer knows ("" first, for unknown ones).
        types: The entity types it knows ("" and "UNK" first).
        block_keys: Each training document's key → its block's key.
        vectors: Static word vectors with idf weights (None without context).
        entity_contexts: Learned entity context vectors.
        memory: The mention memory.
        report: Counts of documents and gold mentions, for the training log.
    """

    labels: list[str]
    types: list[str]
    block_keys: dict[str, str]
    vectors: ContextVectors | None
    entity_contexts: EntityContexts
    memory: MentionMemory
    report: dict[str, int] = field(default_factory=dict)


def learn_tables(
    docs: Sequence[Doc],
    kb: KnowledgeBase,
    settings: EntityLinkerSettings,
    normalizer: AliasNormalizer,
    table: MentionTable,
    show_progress: bool = False,
    vectors: ContextVectors | None = None,
) -> LearnedTables:
    """Learn everything but the weights from gold documents; `table` is cleared and filled with their counts.

    Args:
        docs: Documents whose ``ents`` carry gold ``kb_id`` values.
        kb: The knowledge base.
        settings: The linker's settings.
        normalizer: Gives mentions' normalised keys.
        table: The mention → entity counts to fill.
        show_progress: Show a progress bar when vectors are distilled.
        vectors: Word vectors to use (None: opened or distilled from the settings).
    """
    blocks = block_keys(docs, settings.held_out_block)

    def block_of(doc: Doc) -> str:
        document = document_key(doc)
        return blocks.get(document, document)

    table.clear()
    if settings.use_table:
        for doc in docs:
            defined = find_abbreviations(doc.text) if settings.abbreviations else {}
            for span in doc.ents:
                if not span.kb_id:
                    continue
                entity = span.kb_id if span.kb_id == NIL else kb.resolve(span.kb_id) or span.kb_id
                text = (expand(span.text, defined) if defined else None) or span.text
                table.add(block_of(doc), text, entity)
    entity_contexts = EntityContexts(0)
    memory = MentionMemory(0)
    if not settings.incl_context:
        vectors = None
    else:
        vectors = vectors or context_vectors(settings.vectors, docs, kb, show_progress)
        vectors.fit_idf(doc.words[start:end] for doc in docs for start, end in sentence_bounds(doc))
        entity_contexts = EntityContexts(vectors.dim)
        memory = MentionMemory(vectors.dim)
        remember = settings.memory and settings.use_table
        for doc in docs:
            spans = [span for span in doc.ents if span.kb_id]
            if not spans:
                continue
            block = block_of(doc)
            defined = find_abbreviations(doc.text) if settings.abbreviations and remember else {}
            for span, contexts in zip(spans, vectors.mention_contexts(doc, spans, settings.n_sents), strict=True):
                entities = [] if span.kb_id == NIL else gold_ids(span.kb_id, kb)
                for entity in entities:
                    entity_contexts.add(block, entity, contexts[0])
                if entities:
                    add_pattern_contexts(entity_contexts, block, name_pattern(entity_name(kb, entities[0]), span.text),
                                         contexts)
                if remember and (entities or span.kb_id == NIL):
                    text = (expand(span.text, defined) if defined else None) or span.text
                    memory.add(normalizer(text), entities[0] if entities else NIL, block, document_key(doc), contexts)
    report = {
        "documents": len(docs),
        "gold_mentions": sum(1 for doc in docs for span in doc.ents if span.kb_id),
        "nil_mentions": sum(1 for doc in docs for span in doc.ents if span.kb_id == NIL),
        "ids_not_in_kb": sum(1 for doc in docs for span in doc.ents
                             if span.kb_id and span.kb_id != NIL and not gold_ids(span.kb_id, kb)),
    }
    types = {"", "UNK"}
    for doc in docs:
        for span in doc.ents:
            for entity in gold_ids(span.kb_id, kb) if span.kb_id and span.kb_id != NIL else ():
                types.update(kb.get_entity(entity).types[:1])
    return LearnedTables(
        labels=["", *sorted({span.label for doc in docs for span in doc.ents if span.label})],
        types=["", "UNK", *sorted(types - {"", "UNK"})],
        block_keys=blocks, vectors=vectors, entity_contexts=entity_contexts, memory=memory, report=report,
    )


def context_vectors(spec: Any, docs: Sequence[Doc], kb: KnowledgeBase, show_progress: bool = False
                    ) -> ContextVectors:
    """The linker's static word vectors.

    Args:
        spec: A vectors folder or `VectorsSettings` (built when missing); None distils vectors from the default
            encoder for the words of `docs` and (for a KB of at most 200,000 entities) of the KB's texts.
        docs: The training documents.
        kb: The knowledge base.
        show_progress: Show a progress bar while distilling.
    """
    from elkit.encoders.vectors import distill_vectors, open_vectors

    if spec:
        words, matrix = open_vectors(spec)
        return ContextVectors(words, to_numpy(matrix.float()))
    vocabulary = {word.lower() for doc in docs for word in doc.words}
    if kb.entity_count <= 200_000:
        for entity_id in kb.entity_ids():
            vocabulary.update(word.lower() for word in re.findall(r"\w+", kb.get_entity(entity_id).text()))
    words, matrix = distill_vectors(sorted(vocabulary), show_progress=show_progress)
    return ContextVectors(words, to_numpy(matrix.float()))


def listwise_loss(model: LinkScorer, inputs: Sequence[LinkInput], pairs: int) -> torch.Tensor:
    """Mean negative log of the probability mass on each mention's right rows (candidates or NIL)."""
    logits = model(make_batch(inputs, model.dim, pairs, model.device))  # [B, C + 1]
    width = logits.shape[1] - 1
    target = torch.zeros_like(logits, dtype=torch.bool)
    for row, item in enumerate(inputs):
        for gold in item.gold:
            target[row, width if gold == len(item.candidates) else gold] = True
    log_probabilities = torch.log_softmax(logits, dim=-1)
    gold_mass = torch.logsumexp(log_probabilities.masked_fill(~target, -1e4), dim=-1)
    return -gold_mass.mean()


def training_step(model: LinkScorer, inputs: Sequence[LinkInput], optimizer: torch.optim.Optimizer, *, pairs: int,
                  coherence: Coherence | None, drop: float | None = None) -> float:
    """One optimizer step on the inputs of gold mentions; returns the loss.

    Args:
        model: The scorer (put in training mode).
        inputs: Mentions with candidates and ``gold`` rows.
        optimizer: Steps the scorer's weights.
        pairs: The size of the scorer's pair table.
        coherence: Fills the coherence features from first-pass probabilities; the second pass's loss is added.
            None: the first pass only.
        drop: Dropout rate for this step only (None: the scorer's own).
    """
    model.train()
    dropouts = [module for module in model.modules() if isinstance(module, torch.nn.Dropout)]
    rates = [module.p for module in dropouts]
    if drop is not None:
        for module in dropouts:
            module.p = drop
    try:
        loss = listwise_loss(model, inputs, pairs)
        if coherence is not None:
            with torch.no_grad():
                logits = model(make_batch(inputs, model.dim, pairs, model.device))
            loss = loss + listwise_loss(model, coherence(inputs, probabilities_from_logits(logits, inputs)), pairs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    finally:
        for module, rate in zip(dropouts, rates, strict=True):
            module.p = rate
    return float(loss.detach())
