"""``EntityLinker``: ground each entity span in a knowledge base, or mark it NIL.

A batch of documents goes through a line of stages, each its own module:

1. mentions (`linking.mentions`): the spans to link, and the text each is looked up by;
2. candidates (`linking.generation`): the generator set of `elkit.candidates` (exact, normalised and fuzzy alias
   lookup by default, dense when the KB has vectors, then the mention → entity pairs seen in training);
3. features (`linking.features`): numbers for each candidate and for the NIL option;
4. scorer (`linking.scorer`): a trained listwise ranker gives each mention a distribution over its candidates
   and NIL;
5. coherence (`linking.coherence`): other mentions of the same document say which entities are likely (other
   mentions of the same entity, related entities, a longer mention the span is part of, as "Clinton" in a text
   that also says "Bill Clinton"), and the scorer runs a second time with that;
6. reranker (`linking.reranking`, optional): a fine-tuned cross-encoder rescores the ``top_k`` best candidates;
7. decision (`linking.decision`): the best candidate goes into ``span.kb_id`` with its probability in
   ``span.link_score`` and the scored list in ``span.candidates``, or NIL when there is no candidate, the NIL
   option wins, or the best probability is under ``threshold``.

What the linker learns besides weights is in `linking.learning`; saving and loading in `linking.storage`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch

from elkit.batching import PredictThenAnnotate
from elkit.candidates import AppendGenerator, MentionTable, UnionGenerator, build_generator
from elkit.doc import Doc
from elkit.errors import ConfigError, ModelError
from elkit.kb.base import KnowledgeBase
from elkit.kb.declared import as_kb, kb_from_setting
from elkit.kb.normalize import AliasNormalizer
from elkit.linking import learning, storage
from elkit.linking.coherence import add_coherence, entity_vectors
from elkit.linking.context import ContextVectors
from elkit.linking.coreference import coreference_evidence
from elkit.linking.decision import LinkPrediction, write_links
from elkit.linking.features import EntityInfos, LinkInput, featurize
from elkit.linking.generation import GetCandidates, generate_candidates, table_shares
from elkit.linking.mentions import find_mentions, linkable_spans
from elkit.linking.reranker import CrossEncoderReranker, RerankerSettings, RerankItem
from elkit.linking.reranking import rerank, rerank_items
from elkit.linking.scorer import LinkScorer, new_scorer, pair_count, score
from elkit.linking.settings import EntityLinkerSettings
from elkit.linking.tables import EntityContexts, MentionMemory, document_key
from elkit.registry import factories
from elkit.settings import validate_settings

__all__ = ["EntityLinker", "EntityLinkerSettings", "LinkPrediction", "make_entity_linker"]


class EntityLinker(PredictThenAnnotate):
    """The trainable entity linker (``elkit.EntityLinker.v1``).

    Args:
        name: Component name.
        settings: The settings (`EntityLinkerSettings`); or give them as keyword arguments.
        **values: Settings by name, when ``settings`` is not given.

    Raises:
        ConfigError: A setting is unknown or has a bad value, or both ``settings`` and keywords are given.
    """

    def __init__(self, name: str = "entity_linker", settings: EntityLinkerSettings | None = None,
                 **values: Any) -> None:
        if settings is not None and values:
            raise ConfigError(f"{name}: give settings or keyword settings, not both")
        self.name = name
        self.settings = validate_settings(EntityLinkerSettings, settings if settings is not None else values, name)
        self.normalizer = AliasNormalizer()
        self.table = MentionTable(self.normalizer)
        self.vectors: ContextVectors | None = None
        self.entity_contexts = EntityContexts(0)
        self.memory = MentionMemory(0)
        self.labels: list[str] = [""]
        self.types: list[str] = ["", "UNK"]
        self.model: LinkScorer | None = None
        self.device = torch.device("cpu")
        self.reranker: CrossEncoderReranker | None = None
        self.get_candidates: GetCandidates | None = None
        self.initialize_report: dict[str, int] = {}
        self._kb: KnowledgeBase | None = None
        self._generator: UnionGenerator | AppendGenerator | None = None
        self._infos: EntityInfos | None = None
        self._block_keys: dict[str, str] = {}
        self._training_cache: dict[str, list[LinkInput]] = {}
        self._optimizer: torch.optim.Optimizer | None = None

    # --- settings and KB ------------------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The settings as config values (what ``config.toml`` gets for this component)."""
        return self.settings.to_config()

    def change_settings(self, **changes: Any) -> None:
        """Change settings by name (validated, sub-settings as tables); a trained model is kept.

        Meant for what can change after training: ``threshold``, ``labels_discard``, ``overwrite``,
        ``store_candidates``, ``relabel``, ``reranker``, ``candidates``, ``kb``.

        Raises:
            ConfigError: A setting is unknown or has a bad value.
        """
        before = self.settings
        self.settings = validate_settings(EntityLinkerSettings, {**before.model_dump(), **changes}, self.name)
        if self.settings.kb != before.kb:
            self._kb = None
        if (self.settings.kb, self.settings.candidates, self.settings.use_table) != (
                before.kb, before.candidates, before.use_table):
            self._generator = None
            self._infos = None

    @property
    def threshold(self) -> float | None:
        """Below this probability the best candidate gives way to NIL (settable)."""
        return self.settings.threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        self.change_settings(threshold=value)

    @property
    def labels_discard(self) -> list[str]:
        """Span labels never linked (settable)."""
        return list(self.settings.labels_discard)

    @labels_discard.setter
    def labels_discard(self, value: Sequence[str]) -> None:
        self.change_settings(labels_discard=list(value))

    @property
    def overwrite(self) -> bool:
        """Relink spans that already have a ``kb_id`` (settable)."""
        return self.settings.overwrite

    @overwrite.setter
    def overwrite(self, value: bool) -> None:
        self.change_settings(overwrite=value)

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base (opened from the ``kb`` setting on first use; an empty one when there is none)."""
        if self._kb is None:
            self._kb = kb_from_setting(self.settings.kb)
        return self._kb

    @property
    def kb_if_open(self) -> KnowledgeBase | None:
        """The knowledge base when one is set or opened already (None: not yet)."""
        return self._kb

    def set_kb(self, kb: KnowledgeBase | str | Path) -> None:
        """Use this KB (an object or a KB folder) from now on; cached entity data is dropped."""
        self._kb = as_kb(kb)
        self._generator = None
        self._infos = None
        self._training_cache = {}

    @property
    def entity_infos(self) -> EntityInfos:
        """What the features need of each entity, read from the KB on first use."""
        if self._infos is None:
            self._infos = EntityInfos(self.kb, self.vectors, self.normalizer)
        return self._infos

    def set_model(self, model: LinkScorer) -> None:
        """Use this scorer from now on, on the linker's device (caches and the optimizer are dropped)."""
        self.model = model.to(self.device)
        self._infos = None
        self._training_cache = {}
        self._optimizer = None

    def to_device(self, device: torch.device) -> None:
        """Run on ``device`` from now on: the scorer, the reranker and the dense candidate encoder move there.

        A pipeline calls it with its resolved ``[nlp] device`` (see :mod:`elkit.devices`); the optimizer is rebuilt.
        """
        self.device = device
        if self.model is not None:
            self.model.to(device)
        if self.reranker is not None:
            self.reranker.to_device(device)
        self._generator = None
        self._optimizer = None

    def set_reranker(self, reranker: CrossEncoderReranker | None) -> None:
        """Use this reranker (None: none) on the linker's device; a linker without reranker settings gets defaults."""
        if reranker is not None:
            reranker.to_device(self.device)
        self.reranker = reranker
        if reranker is not None and self.settings.reranker is None:
            self.change_settings(reranker=RerankerSettings())

    def require_model(self) -> LinkScorer:
        """The scorer.

        Raises:
            ModelError: The linker has none yet.
        """
        if self.model is None:
            raise ModelError(f"{self.name}: the linker has no model yet; initialize and train it, or load one")
        return self.model

    # --- the line of stages ---------------------------------------------------------------------------------

    def predict(self, docs: Sequence[Doc]) -> list[list[LinkPrediction]]:
        """Score every linkable span's candidates; returns, per document, one `LinkPrediction` per span."""
        settings = self.settings
        if not any(linkable_spans(doc, settings.labels_discard, settings.overwrite) for doc in docs):
            return [[] for _ in docs]
        if self.model is None:
            self._build_model()
        inputs = self.link_inputs(docs)  # mentions → candidates → features
        probabilities = self._probabilities(inputs)  # scorer → coherence → scorer → reranker
        output: list[list[LinkPrediction]] = [[] for _ in docs]
        for item, found in zip(inputs, probabilities, strict=True):
            output[item.mention.doc].append(LinkPrediction(item.mention.position, item.candidates, found))
        return output

    def set_annotations(self, docs: Sequence[Doc], predictions: Sequence[Sequence[LinkPrediction]]) -> None:
        """The decision: write ``kb_id``, ``link_score`` and the scored candidates into each predicted span."""
        write_links(docs, predictions, self.settings, self.kb)

    def link_inputs(self, docs: Sequence[Doc], block_key: Callable[[Doc], str] | None = None) -> list[LinkInput]:
        """The mentions of `docs`, their candidates and their features: the scorer's input.

        Args:
            docs: The documents.
            block_key: While training (see `find_mentions`): each gold span is a mention, and its features leave
                its block of training documents out (`block_key`); None when predicting.
        """
        settings = self.settings
        mentions = find_mentions(docs, labels_discard=settings.labels_discard, overwrite=settings.overwrite,
                                 abbreviations=settings.abbreviations, block_key=block_key)
        if self._generator is None:
            self._generator = build_generator(self.kb, settings.candidates, self.table if settings.use_table else None,
                                              device=self.device)
        candidates = generate_candidates(mentions, self.kb, self._generator, self.table, self.get_candidates)
        evidence = None
        if settings.coreference:
            shares = functools.partial(table_shares, self.table) if settings.use_table and settings.incl_prior else None
            candidates, evidence = coreference_evidence(mentions, candidates, self.normalizer, shares)
        return featurize(docs, mentions, candidates, infos=self.entity_infos, vectors=self.vectors, table=self.table,
                         entity_contexts=self.entity_contexts, memory=self.memory, labels=self.labels,
                         types=self.types, normalizer=self.normalizer, n_sents=settings.n_sents,
                         incl_prior=settings.incl_prior, incl_context=settings.incl_context, coreference=evidence)

    def _probabilities(self, inputs: Sequence[LinkInput], with_reranker: bool = True) -> list[np.ndarray]:
        """Scorer, coherence and scorer again, then the reranker: probabilities (candidates, then NIL) per input."""
        model = self.require_model()
        model.eval()
        pairs = pair_count(self.labels, self.types)
        scorable = [item for item in inputs if item.candidates]
        found = score(model, scorable, pairs)
        coherence = self._coherence_stage()
        if coherence is not None and scorable:
            found = score(model, coherence(scorable, found), pairs)
        reranker, reranker_settings = self.reranker, self.settings.reranker
        if with_reranker and reranker is not None and reranker.active and reranker_settings is not None and scorable:
            found = rerank(scorable, found, reranker, reranker_settings, self.kb, self.settings.n_sents)
        scored = iter(found)
        return [next(scored) if item.candidates else np.ones(1, dtype=np.float32) for item in inputs]

    def _coherence_stage(self) -> Callable[[Sequence[LinkInput], Sequence[np.ndarray]], list[LinkInput]] | None:
        """The coherence stage with its arguments bound (None when the settings switch it off)."""
        if not self.settings.coherence:
            return None
        vectors = None
        if self.vectors and self.settings.incl_context:
            vectors = functools.partial(entity_vectors, entity_contexts=self.entity_contexts,
                                        infos=self.entity_infos, dim=self.vectors.dim)
        return functools.partial(add_coherence, normalizer=self.normalizer, vectors=vectors)

    # --- learning -------------------------------------------------------------------------------------------

    def initialize(self, get_examples: Callable[[], Iterable[Any]], *, kb: KnowledgeBase | str | None = None,
                   show_progress: bool = False) -> None:
        """Learn the tables (mention counts, idf, entity contexts, memory) from gold documents; fresh weights.

        Args:
            get_examples: Returns ``Example`` objects or documents whose ``ents`` carry gold ``kb_id`` values.
            kb: The KB to use (default: the configured one).
            show_progress: Show progress bars (on stderr).
        """
        if kb is not None:
            self.set_kb(kb)
        docs = [learning.reference(item) for item in get_examples()]
        learned = learning.learn_tables(docs, self.kb, self.settings, self.normalizer, self.table, show_progress)
        self.labels, self.types = learned.labels, learned.types
        self.vectors, self.entity_contexts, self.memory = learned.vectors, learned.entity_contexts, learned.memory
        self._block_keys = learned.block_keys
        self.initialize_report = learned.report
        self._build_model()

    def refresh_tables(self, get_examples: Callable[[], Iterable[Any]]) -> None:
        """Learn the tables again from these gold documents, keeping the weights, labels, types and word vectors.

        Used after the choices of training were made on held-out documents, so that the saved linker counts
        every training document.
        """
        docs = [learning.reference(item) for item in get_examples()]
        learned = learning.learn_tables(docs, self.kb, self.settings, self.normalizer, self.table,
                                        vectors=self.vectors)
        self.entity_contexts, self.memory = learned.entity_contexts, learned.memory
        self.vectors = learned.vectors
        self._block_keys = learned.block_keys
        self._generator = None
        self._infos = None
        self._training_cache = {}
        self.entity_contexts.freeze()
        self.memory.freeze()

    def _build_model(self) -> None:
        torch.manual_seed(self.settings.seed)
        settings = self.settings
        dim = self.vectors.dim if self.vectors and settings.incl_context and settings.projection else 0
        self.set_model(new_scorer(self.labels, self.types, dim, hidden_width=settings.hidden_width,
                                  projection=settings.projection, dropout=settings.dropout,
                                  features_off=settings.features_off))

    def new_weights(self) -> None:
        """Fresh scorer weights for the current settings, keeping the tables and the cached training features.

        For ablations and restarts between `initialize` and `finish_training`: change ``features_off`` or
        ``coherence`` with `change_settings`, then train again without recomputing any feature.
        """
        cache = self._training_cache
        self._build_model()
        self._training_cache = cache

    def make_optimizer(self) -> torch.optim.Optimizer:
        """A fresh AdamW optimizer over the scorer's weights."""
        return torch.optim.AdamW(self.require_model().parameters(), lr=self.settings.learning_rate,
                                 weight_decay=self.settings.weight_decay)

    def block_key(self, doc: Doc) -> str:
        """The block of training documents `doc` belongs to (its own key when it was not a training document)."""
        document = document_key(doc)
        return self._block_keys.get(document, document)

    def training_inputs(self, docs: Sequence[Doc]) -> list[LinkInput]:
        """The inputs of the gold mentions of `docs` that have candidates, each with its ``gold`` rows.

        Each document's block is left out of the tables its features come from. Inputs are cached per document
        until training is over.
        """
        inputs: list[LinkInput] = []
        for doc in docs:
            document = document_key(doc)
            cached = self._training_cache.get(document)
            if cached is None:
                cached = []
                for item in self.link_inputs([doc], block_key=self.block_key):
                    gold = learning.gold_rows(item.mention.span.kb_id, item.candidates, self.kb)
                    if gold:
                        cached.append(dataclasses.replace(item, gold=gold))
                self._training_cache[document] = cached
            inputs.extend(item for item in cached if item.candidates)
        return inputs

    def update(self, examples: Iterable[Any], *, drop: float | None = None, sgd: Any = None,
               losses: dict[str, float] | None = None) -> dict[str, float]:
        """One step on gold documents: listwise cross-entropy over each mention's candidates and NIL, both passes.

        Mentions whose gold entity is not among their candidates teach nothing and are skipped. ``drop`` sets
        the dropout rate of this step only.
        """
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        docs = [learning.reference(item) for item in examples]
        model = self.require_model()
        inputs = self.training_inputs(docs)
        if not inputs:
            return losses
        optimizer = sgd if sgd is not None else self._optimizer
        if optimizer is None:
            optimizer = self._optimizer = self.make_optimizer()
        losses[self.name] += learning.training_step(model, inputs, optimizer, pairs=pair_count(self.labels, self.types),
                                                    coherence=self._coherence_stage(), drop=drop)
        return losses

    def training_rerank_items(self, docs: Sequence[Doc]) -> list[RerankItem]:
        """Reranker training items from gold documents.

        The first stage scores them with each document left out of the tables its features come from, as while
        training the first stage.
        """
        inputs = self.training_inputs(docs)
        probabilities = self._probabilities(inputs, with_reranker=False)
        items = rerank_items(inputs, probabilities, self.settings.reranker or RerankerSettings(), self.kb,
                             self.settings.n_sents, training=True)
        return [item for _, _, item in items]

    def finish_training(self) -> None:
        """Drop the training caches and per-block splits (call once training is over)."""
        self._training_cache = {}
        self.entity_contexts.freeze()
        self.memory.freeze()
        self._infos = None

    # --- saving ---------------------------------------------------------------------------------------------

    def to_disk(self, path: str | Path) -> None:
        """Write the model, its tables and (when one is set) a copy of the KB into the folder ``path``."""
        storage.write_linker(self, path)

    def from_disk(self, path: str | Path) -> Self:
        """Load a linker saved by :meth:`to_disk` (and its KB copy, when there is one)."""
        storage.read_linker(self, path)
        return self

    def to_bytes(self) -> bytes:
        """The model, its tables and the reranker as bytes (the KB is not included: set it with :meth:`set_kb`)."""
        return storage.linker_to_bytes(self)

    def from_bytes(self, data: bytes) -> Self:
        """Load a model from :meth:`to_bytes` output."""
        storage.linker_from_bytes(self, data)
        return self

    def __getstate__(self) -> dict[str, Any]:
        return storage.linker_state(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        storage.restore_linker_state(self, state)

    def __repr__(self) -> str:
        return f"EntityLinker(name={self.name!r}, kb={self.settings.kb!r}, trained={self.model is not None})"


@factories.register("elkit.EntityLinker.v1", settings=EntityLinkerSettings)
def make_entity_linker(name: str, settings: EntityLinkerSettings) -> EntityLinker:
    """The trainable entity linker (see :class:`elkit.linking.EntityLinker`)."""
    return EntityLinker(name, settings)
