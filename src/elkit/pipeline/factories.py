"""Where every built-in factory is registered: the one place that maps versioned names to code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from elkit.linking.component import EntityLinker
from elkit.ner.component import SpanNER
from elkit.ner.ruler import EntityRuler
from elkit.registry import factories, tokenizers
from elkit.tokenize import Sentencizer, Tokenizer

__all__: list[str] = []


@tokenizers.register("elkit.Tokenizer.v1")
def make_tokenizer(special_cases: Mapping[str, Sequence[str]] | None = None) -> Tokenizer:
    """The rule-based English tokenizer."""
    return Tokenizer(special_cases=special_cases)


@factories.register("elkit.Sentencizer.v1")
def make_sentencizer(name: str, newline_breaks: bool = False) -> Sentencizer:
    """The rule-based sentence splitter."""
    return Sentencizer(name, newline_breaks=newline_breaks)


@factories.register("elkit.SpanNER.v1")
def make_span_ner(
    name: str,
    labels: list[str] | None = None,
    encoder: dict[str, Any] | None = None,
    hidden_width: int = 128,
    max_width: int = 10,
    dropout: float = 0.1,
    threshold: float = 0.5,
    context: str = "sentence",
    spans_key: str | None = None,
    overwrite_ents: bool = False,
    learning_rate: float = 0.001,
    encoder_learning_rate: float | None = None,
    seed: int = 0,
) -> SpanNER:
    """The trainable span-scoring entity recognizer (see :class:`elkit.ner.SpanNER`)."""
    return SpanNER(
        name, labels=labels or (), encoder=encoder, hidden_width=hidden_width, max_width=max_width, dropout=dropout,
        threshold=threshold, context=context, spans_key=spans_key, overwrite_ents=overwrite_ents,
        learning_rate=learning_rate, encoder_learning_rate=encoder_learning_rate, seed=seed,
    )


@factories.register("elkit.EntityRuler.v1")
def make_entity_ruler(
    name: str,
    patterns_path: str | None = None,
    phrase_matcher_attr: str = "ORTH",
    overwrite_ents: bool = False,
    spans_key: str | None = None,
    validate: bool = True,
) -> EntityRuler:
    """The pattern matcher: phrase and token patterns from a spaCy / Prodigy patterns.jsonl (read on first use)."""
    return EntityRuler(
        name,
        patterns_path=patterns_path,
        phrase_matcher_attr=phrase_matcher_attr,
        overwrite_ents=overwrite_ents,
        spans_key=spans_key,
        validate=validate,
    )


@factories.register("elkit.EntityLinker.v1")
def make_entity_linker(
    name: str,
    kb: str | None = None,
    labels_discard: list[str] | None = None,
    n_sents: int = 0,
    incl_prior: bool = True,
    incl_context: bool = True,
    threshold: float | None = None,
    overwrite: bool = True,
    candidates: dict[str, Any] | None = None,
    vectors: str | None = None,
    hidden_width: int = 64,
    dropout: float = 0.1,
    learning_rate: float = 0.003,
    coherence: bool = True,
    use_table: bool = True,
    store_candidates: int = 10,
    projection: int = 0,
    weight_decay: float = 0.0,
    relabel: bool = False,
    reranker: dict[str, Any] | None = None,
    abbreviations: bool = False,
    held_out_block: int = 1,
    memory: bool = True,
    seed: int = 0,
) -> EntityLinker:
    """The trainable entity linker (see :class:`elkit.linking.EntityLinker`)."""
    return EntityLinker(
        name, kb=kb, labels_discard=labels_discard or (), n_sents=n_sents, incl_prior=incl_prior,
        incl_context=incl_context, threshold=threshold, overwrite=overwrite, candidates=candidates, vectors=vectors,
        hidden_width=hidden_width, dropout=dropout, learning_rate=learning_rate, coherence=coherence,
        use_table=use_table, store_candidates=store_candidates, projection=projection,
        weight_decay=weight_decay, relabel=relabel, reranker=reranker,
        abbreviations=abbreviations, held_out_block=held_out_block, memory=memory, seed=seed,
    )
