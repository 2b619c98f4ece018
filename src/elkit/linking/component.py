"""``EntityLinker``: ground each entity span in a knowledge base, or mark it NIL.

For every span in ``doc.ents`` (minus ``labels_discard``) it generates candidates from the KB (exact,
normalised and fuzzy alias lookup by default, dense when the KB has vectors, plus the mention → entity pairs
seen in training), scores each with a trained listwise ranker (`LinkScorer`), and writes the best one into
``span.kb_id`` with its probability in ``span.link_score`` and the scored list in ``span.candidates``. A span
gets ``NIL`` when it has no candidate, when the NIL option wins, or when the best probability is under
``threshold``.

Scoring runs twice per batch of documents: the first pass gives every mention a distribution over its
candidates; the second adds document coherence (other mentions of the same entity, entities related to the
other mentions' likely entities, a longer mention the span is part of, as "Clinton" in a text that also says
"Bill Clinton") and makes the final decision.

With a ``reranker`` section, a fine-tuned cross-encoder (`CrossEncoderReranker`) rescores the ``top_k`` best
candidates of each mention after that, in chunks of ``max_candidates`` pairs, and the two stages' scores are
combined with weights fitted on the dev set (or on held-out training documents when there is none).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from elkit.batching import PredictThenAnnotate
from elkit.candidates import ExactGenerator, FuzzyGenerator, NormalizedGenerator, UnionGenerator
from elkit.doc import NIL, Candidate, Doc, Example, Span
from elkit.errors import ConfigError, DataError, ModelError
from elkit.io.pack import pack_files, unpack_files
from elkit.kb.base import KnowledgeBase
from elkit.kb.memory import InMemoryKB
from elkit.kb.normalize import AliasNormalizer
from elkit.linking.abbreviations import expand, find_abbreviations
from elkit.linking.context import ContextVectors, sentence_bounds
from elkit.linking.features import (
    COHERENCE,
    FEATURES,
    NIL_FEATURES,
    EntityInfo,
    candidate_features,
    mark_pass,
)
from elkit.linking.model import LinkBatch, LinkScorer
from elkit.linking.reranker import CrossEncoderReranker, RerankItem, mention_context
from elkit.linking.tables import EntityContexts, MentionMemory, MentionTable, doc_key
from elkit.registry import factories

__all__ = ["EntityLinker", "LinkPrediction"]

_FORMAT = "elkit.EntityLinker/1"
_MODEL_JSON = "model.json"
_WEIGHTS = "weights.safetensors"
_KB_DIR = "kb"
_RERANKER_DIR = "reranker"
_GENERATORS = ("exact", "normalized", "fuzzy", "dense")
_DEFAULT_CANDIDATES: dict[str, Any] = {"generators": ["exact", "normalized", "fuzzy"], "limit": 30,
                                       "fuzzy_min_score": 0.6}

_DEFAULT_RERANKER: dict[str, Any] = {
    "top_k": 4, "max_candidates": 32, "skip_above": 1.0, "base_model": None, "max_length": 128,
    "epochs": 1, "learning_rate": 3e-5, "batch_size": 8, "held_out": 0.1, "max_mentions": 0, "residual": False,
}

GetCandidates = Callable[[Sequence[Span]], list[list[Candidate]]]


@dataclass
class _Mention:
    """One span on its way through the linker."""

    doc: int
    position: int  # index in doc.ents
    span: Span
    candidates: list[Candidate]
    features: np.ndarray  # [C, F]
    nil: np.ndarray  # [G]
    type_pairs: np.ndarray  # [C]
    label: int
    contexts: np.ndarray  # [2, D]
    text_vectors: np.ndarray  # [C, D]
    learned: np.ndarray  # [C, D]
    key: str
    gold: list[int] = field(default_factory=list)  # candidate rows that are right; [C] (the NIL slot) for NIL
    probabilities: np.ndarray | None = None


@dataclass(frozen=True)
class LinkPrediction:
    """The linker's scores for one span.

    Attributes:
        position: Index of the span in ``doc.ents``.
        candidates: The candidates, in generation order.
        probabilities: One probability per candidate, then the NIL probability.
    """

    position: int
    candidates: tuple[Candidate, ...]
    probabilities: np.ndarray


class EntityLinker(PredictThenAnnotate):
    """The trainable entity linker (``elkit.EntityLinker.v1``).

    Args:
        name: Component name.
        kb: Path of a KB folder (``elkit kb build``), opened on first use; or set one with :meth:`set_kb`.
        labels_discard: Span labels never linked (their ``kb_id`` is left as it is).
        n_sents: Sentences either side of the mention's sentence in its local context (-1: the whole document).
        incl_prior: Use the KB's alias priors and the mention → entity counts from training.
        incl_context: Use context vectors (local and document) against entity vectors.
        threshold: Below this probability the best candidate gives way to NIL (None: only the NIL option).
        overwrite: Relink spans that already have a ``kb_id``.
        candidates: Candidate generation: ``generators`` (any of exact, normalized, fuzzy, dense), ``limit``
            (candidates kept per mention) and ``fuzzy_min_score``.
        vectors: A static word vectors folder (``elkit vectors distill``); None distils vectors for the training
            and KB words from the default encoder at initialisation.
        hidden_width: Width of the scorer's hidden layers.
        dropout: Dropout while training.
        learning_rate: Adam learning rate.
        coherence: Run the second, document-coherence pass.
        use_table: Learn mention → entity counts from training data (a candidate source and a feature).
        store_candidates: How many scored candidates each span keeps.
        projection: Width of the learned bilinear context × entity scores (0: only the fixed cosines, which
            generalise better when training documents are few).
        weight_decay: AdamW weight decay.
        relabel: Give each linked span its entity's first type as label (for dictionary-matched mentions,
            whose label is only a guess).
        reranker: Settings of the optional cross-encoder reranker (None: no reranker): ``top_k`` (candidates
            reranked per mention), ``max_candidates`` (pairs per forward pass), ``skip_above`` (a first-stage
            probability at which a mention is not reranked), ``base_model`` (local model folder to fine-tune;
            None: the default encoder), ``max_length``, and for training ``epochs``, ``learning_rate``,
            ``batch_size`` (mentions per step), ``held_out`` (share of training documents kept for the
            combination weights when there is no dev set), ``max_mentions`` (0: all) and ``residual`` (train
            the scores as a correction of the first stage). It is trained by ``elkit train`` after the
            first stage and saved in the component's ``reranker/`` folder.
        abbreviations: Look up a mention that is an abbreviation defined in its document ("coronary heart disease
            (CHD)", Schwartz-Hearst) by its long form: candidates, training counts and string features.
        held_out_block: While training, a mention's features come from tables without its own document; with
            a block of N, without the N consecutive training documents around it too (news collections repeat a
            story across neighbouring documents, which makes the counts look more reliable than on new text).
        memory: Keep every training mention's context vectors and score a candidate by its share of the weight of
            the nearest earlier occurrences of the same text (`MentionMemory`); needs ``use_table`` and
            ``incl_context``.
        seed: Seed for weights and shuffling.
    """

    def __init__(
        self,
        name: str,
        *,
        kb: str | None = None,
        labels_discard: Sequence[str] = (),
        n_sents: int = 0,
        incl_prior: bool = True,
        incl_context: bool = True,
        threshold: float | None = None,
        overwrite: bool = True,
        candidates: Mapping[str, Any] | None = None,
        vectors: str | dict[str, Any] | None = None,
        hidden_width: int = 64,
        dropout: float = 0.1,
        learning_rate: float = 0.003,
        coherence: bool = True,
        use_table: bool = True,
        store_candidates: int = 10,
        projection: int = 0,
        weight_decay: float = 0.0,
        relabel: bool = False,
        reranker: Mapping[str, Any] | None = None,
        abbreviations: bool = False,
        held_out_block: int = 1,
        memory: bool = True,
        seed: int = 0,
    ) -> None:
        settings = {**_DEFAULT_CANDIDATES, **(candidates or {})}
        unknown = set(settings) - set(_DEFAULT_CANDIDATES)
        if unknown:
            raise ConfigError(f"{name}: unknown candidates settings {sorted(unknown)}")
        bad = [generator for generator in settings["generators"] if generator not in _GENERATORS]
        if bad or not settings["generators"]:
            raise ConfigError(f"{name}: candidates.generators must be some of {list(_GENERATORS)}, got {bad or []}")
        rerank = None if reranker is None else {**_DEFAULT_RERANKER, **reranker}
        unknown = set(rerank or {}) - set(_DEFAULT_RERANKER)
        if unknown:
            raise ConfigError(f"{name}: unknown reranker settings {sorted(unknown)}")
        if rerank is not None and (int(rerank["top_k"]) < 2 or int(rerank["max_candidates"]) < 1):
            raise ConfigError(f"{name}: reranker.top_k must be at least 2 and max_candidates at least 1")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"{name}: threshold must be in [0, 1], got {threshold}")
        self.name = name
        self.kb_path = kb
        self.labels_discard = list(labels_discard)
        self.n_sents = n_sents
        self.incl_prior = incl_prior
        self.incl_context = incl_context
        self.threshold = threshold
        self.overwrite = overwrite
        self.candidate_settings = settings
        self.vectors_path = vectors
        self.hidden_width = hidden_width
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.coherence = coherence
        self.use_table = use_table
        self.store_candidates = store_candidates
        self.projection = projection
        self.weight_decay = weight_decay
        self.relabel = relabel
        self.reranker_settings = rerank
        self.abbreviations = abbreviations
        self.held_out_block = held_out_block
        self.use_memory = memory
        self._held_keys: dict[str, str] = {}
        self.reranker: CrossEncoderReranker | None = None
        self.seed = seed
        self.normalizer = AliasNormalizer()
        self.table = MentionTable(self.normalizer)
        self.vectors: ContextVectors | None = None
        self.entity_contexts = EntityContexts(0)
        self.memory = MentionMemory(0)
        self.labels: list[str] = [""]
        self.types: list[str] = ["", "UNK"]
        self.model: LinkScorer | None = None
        self._kb: KnowledgeBase | None = None
        self._generator: Any = None
        self.get_candidates: GetCandidates | None = None
        self._infos: dict[str, EntityInfo] = {}
        self._cache: dict[str, list[_Mention]] = {}
        self._optimizer: torch.optim.Optimizer | None = None
        self._training = False
        self.initialize_report: dict[str, int] = {}

    # --- configuration and KB -------------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The factory's keyword arguments other than ``name``."""
        return {
            "kb": self.kb_path, "labels_discard": list(self.labels_discard), "n_sents": self.n_sents,
            "incl_prior": self.incl_prior, "incl_context": self.incl_context, "threshold": self.threshold,
            "overwrite": self.overwrite, "candidates": dict(self.candidate_settings), "vectors": self.vectors_path,
            "hidden_width": self.hidden_width, "dropout": self.dropout, "learning_rate": self.learning_rate,
            "coherence": self.coherence, "use_table": self.use_table, "store_candidates": self.store_candidates,
            "projection": self.projection, "weight_decay": self.weight_decay, "relabel": self.relabel,
            "reranker": dict(self.reranker_settings) if self.reranker_settings is not None else None,
            "abbreviations": self.abbreviations, "held_out_block": self.held_out_block,
            "memory": self.use_memory, "seed": self.seed,
        }

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base (opened from ``kb`` on first use; an empty one when none was given)."""
        if self._kb is None:
            if self.kb_path:
                from elkit.kb import open_kb

                self._kb = open_kb(self.kb_path)
            else:
                self._kb = InMemoryKB()
        return self._kb

    def set_kb(self, kb: KnowledgeBase | str | Path) -> None:
        """Use this KB (an object or a KB folder) from now on; cached entity data is dropped."""
        if isinstance(kb, str | Path):
            from elkit.kb import open_kb

            kb = open_kb(kb)
        self._kb = kb
        self._generator = None
        self._infos = {}
        self._cache = {}

    def _candidate_generator(self) -> Any:
        if self._generator is None:
            settings = self.candidate_settings
            limit = int(settings["limit"])
            made: list[Any] = []
            for name in settings["generators"]:
                if name == "exact":
                    made.append(ExactGenerator(self.kb))
                elif name == "normalized":
                    made.append(NormalizedGenerator(self.kb))
                elif name == "fuzzy":
                    made.append(FuzzyGenerator(self.kb, limit=limit, min_score=float(settings["fuzzy_min_score"])))
                elif name == "dense" and self.kb.vector_dim:
                    from elkit.candidates import DenseGenerator

                    made.append(DenseGenerator(self.kb, limit=limit))
            self._generator = UnionGenerator(made, limit=limit)
        return self._generator

    def _generate(self, spans: Sequence[Span], keys: Sequence[str] | None = None,
                  texts: Sequence[str] | None = None) -> list[list[Candidate]]:
        if self.get_candidates is not None:
            return [list(found) for found in self.get_candidates(spans)]
        if not spans:
            return []
        if self.kb.alias_count == 0 and not len(self.table):
            return [[] for _ in spans]
        texts = list(texts) if texts is not None else [span.text for span in spans]
        found = self._candidate_generator().batch(texts)
        if self.use_table and len(self.table):
            keys = keys or [""] * len(spans)
            found = [self._add_table(text, candidates, key)
                     for text, candidates, key in zip(texts, found, keys, strict=True)]
        return found

    def _add_table(self, text: str, candidates: list[Candidate], held_out: str = "") -> list[Candidate]:
        exact, normal = self.table.lookup(text, self.table.without(held_out) if held_out else ({}, {}))
        counts = exact or normal
        if not counts:
            return candidates
        total = sum(counts.values())
        present = {candidate.entity_id: index for index, candidate in enumerate(candidates)}
        merged = list(candidates)
        for entity, count in counts.most_common():
            if entity == NIL:
                continue
            share = count / total
            if entity in present:
                old = merged[present[entity]]
                merged[present[entity]] = Candidate.trusted(old.entity_id, old.alias, old.prior,
                                                            {**old.scores, "table": share})
            elif entity in self.kb:
                merged.append(Candidate.trusted(entity, text, 0.0, {"table": share}))
        return merged

    # --- entity data ----------------------------------------------------------------------------------------

    def _info(self, entity_id: str) -> EntityInfo:
        info = self._infos.get(entity_id)
        if info is None:
            entity = self.kb.get_entity(entity_id)
            name = entity.name or entity_id.replace("_", " ")
            text_vector = (self.vectors.text_vector(entity.text() if entity.name else name) if self.vectors
                           else np.zeros(0, dtype=np.float32))
            info = EntityInfo(name, self.normalizer(name), entity.types[0] if entity.types else "UNK",
                              float(entity.popularity), text_vector)
            self._infos[entity_id] = info
        return info

    def _learned(self, entity_ids: Sequence[str], held_out: str | None) -> tuple[np.ndarray, np.ndarray]:
        """([C, D] learned context vectors, [C] their mention counts), document `held_out` left out."""
        dim = self.vectors.dim if self.vectors else 0
        output = np.zeros((len(entity_ids), dim), dtype=np.float32)
        counts = np.zeros(len(entity_ids), dtype=np.float32)
        if dim and len(self.entity_contexts):
            for row, entity in enumerate(entity_ids):
                vector = self.entity_contexts.vector(entity, held_out)
                if vector is not None:
                    output[row] = vector
                    counts[row] = self.entity_contexts.count(entity, held_out)
        return output, counts

    def _type_pair(self, label: int, entity_type: str) -> int:
        try:
            type_index = self.types.index(entity_type)
        except ValueError:
            type_index = 1
        return 1 + label * len(self.types) + type_index

    # --- mentions and features ------------------------------------------------------------------------------

    def _linkable(self, doc: Doc) -> list[tuple[int, Span]]:
        return [
            (position, span) for position, span in enumerate(doc.ents)
            if span.label not in self.labels_discard and (self.overwrite or not span.kb_id or self._training)
        ]

    def _held_key(self, doc: Doc) -> str:
        """The key a training document's contribution to the tables is filed under (its block's)."""
        key = doc_key(doc)
        return self._held_keys.get(key, key)

    def _mentions(self, docs: Sequence[Doc], held_out: bool) -> list[_Mention]:
        """Candidates and features of every linkable span in `docs`.

        With `held_out` (while training) each document is left out of the tables its features come from.
        """
        chosen: list[tuple[int, int, Span]] = []
        for number, doc in enumerate(docs):
            spans = self._linkable(doc)
            if held_out:
                spans = [(position, span) for position, span in spans if span.kb_id]
            chosen.extend((number, position, span) for position, span in spans)
        keys = {number: self._held_key(doc) if held_out else "" for number, doc in enumerate(docs)}
        texts = [span.text for _, _, span in chosen]
        if self.abbreviations:
            defined = {number: find_abbreviations(doc.text) for number, doc in enumerate(docs)}
            texts = [expand(span.text, defined[number]) or span.text for number, _, span in chosen]
        generated = self._generate([span for _, _, span in chosen], [keys[number] for number, _, _ in chosen], texts)
        contexts: dict[int, np.ndarray] = {}
        dim = self.vectors.dim if self.vectors and self.incl_context else 0
        if dim:
            for number, doc in enumerate(docs):
                spans = [span for doc_number, _, span in chosen if doc_number == number]
                contexts[number] = self.vectors.mention_contexts(doc, spans, self.n_sents)  # type: ignore[union-attr]
        offsets: Counter[int] = Counter()
        mentions = []
        for (number, position, span), candidates, text in zip(chosen, generated, texts, strict=True):
            candidates = [candidate for candidate in candidates if candidate.entity_id in self.kb]
            context = contexts[number][offsets[number]] if dim else np.zeros((2, 0), dtype=np.float32)
            offsets[number] += 1
            key = keys[number]
            table = self.table.lookup(text, self.table.without(key) if key else ({}, {}))
            infos = [self._info(candidate.entity_id) for candidate in candidates]
            learned = (self._learned([candidate.entity_id for candidate in candidates], key or None) if dim
                       else (np.zeros((len(candidates), 0), dtype=np.float32), np.zeros(len(candidates))))
            memory = (self.memory.lookup(self.normalizer(text), context, key or None) if dim and len(self.memory)
                      else ({}, {}, "", ""))
            features, nil = candidate_features(
                text, self.normalizer(text), candidates, infos, table, context, learned,
                self.incl_prior, bool(dim), memory,
            )
            label = self.labels.index(span.label) if span.label in self.labels else 0
            text_vectors = (np.stack([info.text_vector for info in infos]) if infos and dim
                            else np.zeros((len(candidates), dim), dtype=np.float32))
            mention = _Mention(
                doc=number, position=position, span=span, candidates=candidates, features=features, nil=nil,
                type_pairs=np.asarray([self._type_pair(label, info.type) for info in infos], dtype=np.int64),
                label=label, contexts=context, text_vectors=text_vectors, learned=learned[0], key=key,
            )
            if held_out:
                mention.gold = self._gold_rows(span.kb_id, candidates)
            mentions.append(mention)
        return mentions

    def _gold_rows(self, kb_id: str, candidates: Sequence[Candidate]) -> list[int]:
        if kb_id == NIL:
            return [len(candidates)]
        wanted = set(_gold_ids(kb_id, self.kb))
        return [row for row, candidate in enumerate(candidates) if candidate.entity_id in wanted]

    # --- scoring --------------------------------------------------------------------------------------------

    def _batch(self, mentions: Sequence[_Mention]) -> LinkBatch:
        size = len(mentions)
        width = max(1, max(len(mention.candidates) for mention in mentions))
        dim = self.model.dim if self.model else 0
        features = np.zeros((size, width, len(FEATURES)), dtype=np.float32)
        pairs = np.zeros((size, width), dtype=np.int64)
        mask = np.zeros((size, width), dtype=bool)
        text = np.zeros((size, width, dim), dtype=np.float32)
        learned = np.zeros((size, width, dim), dtype=np.float32)
        contexts = np.zeros((size, 2, dim), dtype=np.float32)
        nil = np.zeros((size, len(NIL_FEATURES)), dtype=np.float32)
        labels = np.zeros(size, dtype=np.int64)
        for row, mention in enumerate(mentions):
            count = len(mention.candidates)
            features[row, :count] = mention.features
            pairs[row, :count] = np.minimum(mention.type_pairs, self._pair_count() - 1)
            mask[row, :count] = True
            if dim and count:
                text[row, :count] = mention.text_vectors
                learned[row, :count] = mention.learned
                contexts[row] = mention.contexts
            nil[row] = mention.nil
            labels[row] = mention.label
        return LinkBatch(torch.from_numpy(features), torch.from_numpy(pairs), torch.from_numpy(contexts),
                         torch.from_numpy(text), torch.from_numpy(learned), torch.from_numpy(mask),
                         torch.from_numpy(nil), torch.from_numpy(labels))

    def _pair_count(self) -> int:
        return 1 + len(self.labels) * len(self.types)

    def _coherence(self, mentions: Sequence[_Mention], probabilities: Sequence[np.ndarray]) -> None:
        """Fill the coherence features of `mentions` (one document's, or several) from first-pass probabilities."""
        by_doc: dict[tuple[int, str], list[int]] = {}
        for index, mention in enumerate(mentions):
            by_doc.setdefault((mention.doc, mention.key), []).append(index)
        for indices in by_doc.values():
            keys = [self.normalizer(mentions[index].span.text) for index in indices]
            tops: list[tuple[str, float]] = []
            for index in indices:
                found = probabilities[index][:-1]
                best = int(found.argmax()) if len(found) else -1
                tops.append((mentions[index].candidates[best].entity_id, float(found[best])) if best >= 0
                            else ("", 0.0))
            vectors = self._coherence_vectors([entity for entity, _ in tops])
            for local, index in enumerate(indices):
                mention = mentions[index]
                if not mention.candidates:
                    continue
                candidate_ids = [candidate.entity_id for candidate in mention.candidates]
                same = np.zeros(len(candidate_ids), dtype=np.float32)
                containing = np.zeros(len(candidate_ids), dtype=np.float32)
                words = keys[local].split()
                weights = np.zeros(len(indices), dtype=np.float32)
                for other_local, other in enumerate(indices):
                    if keys[other_local] == keys[local]:
                        continue
                    weights[other_local] = tops[other_local][1]
                    other_probabilities = dict(zip((c.entity_id for c in mentions[other].candidates),
                                                   probabilities[other][:-1], strict=True))
                    for row, entity in enumerate(candidate_ids):
                        same[row] += other_probabilities.get(entity, 0.0)
                    other_words = keys[other_local].split()
                    if words and len(other_words) > len(words) and _contains(other_words, words):
                        for row, entity in enumerate(candidate_ids):
                            containing[row] = max(containing[row], other_probabilities.get(entity, 0.0))
                related = np.zeros(len(candidate_ids), dtype=np.float32)
                if vectors is not None and weights.sum() > 0:
                    own = self._coherence_vectors(candidate_ids)
                    related = (own @ vectors.T) @ weights / weights.sum()
                mention.features[:, COHERENCE] = np.log1p(same)
                mention.features[:, COHERENCE + 1] = related
                mention.features[:, COHERENCE + 2] = containing
                mark_pass(mention.features, mention.nil)

    def _coherence_vectors(self, entity_ids: Sequence[str]) -> np.ndarray | None:
        if not self.vectors or not self.incl_context:
            return None
        rows = np.zeros((len(entity_ids), self.vectors.dim), dtype=np.float32)
        for row, entity in enumerate(entity_ids):
            if not entity:
                continue
            vector = self.entity_contexts.vector(entity)
            rows[row] = vector if vector is not None else self._info(entity).text_vector
        return rows

    def _reset_coherence(self, mentions: Sequence[_Mention]) -> None:
        for mention in mentions:
            mention.features[:, COHERENCE:] = 0.0
            mention.nil[NIL_FEATURES.index("coherence_pass")] = 0.0

    def _score(self, mentions: Sequence[_Mention], batch_size: int = 512) -> list[np.ndarray]:
        """Probabilities (candidates, then NIL) of each mention, both passes, under inference mode."""
        model = self._require_model()
        model.eval()
        scorable = [mention for mention in mentions if mention.candidates]

        def run() -> list[np.ndarray]:
            output = []
            with torch.inference_mode():
                for start in range(0, len(scorable), batch_size):
                    chunk = scorable[start: start + batch_size]
                    logits = model(self._batch(chunk))
                    for row, mention in enumerate(chunk):
                        count = len(mention.candidates)
                        kept = torch.cat([logits[row, :count], logits[row, -1:]])
                        output.append(torch.softmax(kept, dim=0).numpy())
            return output

        self._reset_coherence(scorable)
        first = run()
        if self.coherence and scorable:
            self._coherence(scorable, first)
            first = run()
        for mention, probabilities in zip(scorable, first, strict=True):
            mention.probabilities = probabilities
        if self.reranker is not None and self.reranker.active and self.reranker_settings is not None and scorable:
            self._rerank(scorable)
        for mention in mentions:
            if not mention.candidates:
                mention.probabilities = np.ones(1, dtype=np.float32)
        return [mention.probabilities for mention in mentions]  # type: ignore[misc]

    # --- reranking ------------------------------------------------------------------------------------------

    def entity_text(self, entity_id: str) -> str:
        """What the reranker reads for an entity: its name, its first type, then its description."""
        entity = self.kb.get_entity(entity_id)
        text = entity.name or entity_id.replace("_", " ")
        if entity.types and entity.types[0] not in ("", "UNK"):
            text = f"{text} ({entity.types[0]})"
        return f"{text}: {entity.description}" if entity.description else text

    def rerank_items(self, mentions: Sequence[_Mention], training: bool = False) -> list[tuple[_Mention, np.ndarray,
                                                                                               RerankItem]]:
        """The reranker's input for each scored mention worth reranking: (mention, candidate rows, item).

        A mention is reranked when it has two or more candidates and its best first-stage probability is under
        ``skip_above``; its ``top_k`` best candidates are kept. With `training`, mentions whose gold entity is a
        candidate keep it among their rows (it replaces the last one when it ranked lower) and get ``gold``.
        """
        settings = self.reranker_settings or _DEFAULT_RERANKER
        top_k = int(settings["top_k"])
        chosen = []
        for mention in mentions:
            count = len(mention.candidates)
            probabilities = mention.probabilities
            if count < 2 or probabilities is None or float(probabilities[:count].max()) >= settings["skip_above"]:
                continue
            rows = np.argsort(-probabilities[:count], kind="stable")[:top_k]
            gold = -1
            if training:
                right = [row for row in mention.gold if row < count]
                if not right:
                    continue
                if not set(right) & set(rows.tolist()):
                    rows[-1] = right[0]
                gold = next(index for index, row in enumerate(rows.tolist()) if row in right)
            first = np.log(np.clip(probabilities[rows], 1e-8, None)).astype(np.float32)
            item = RerankItem(mention_context(mention.span.doc, mention.span, self.n_sents),
                              [self.entity_text(mention.candidates[row].entity_id) for row in rows], first, gold)
            chosen.append((mention, rows, item))
        return chosen

    def training_rerank_items(self, docs: Sequence[Doc]) -> list[RerankItem]:
        """Reranker training items from gold documents.

        The first stage scores them with each document left out of the tables its features come from, as while
        training the first stage.
        """
        self._training = True
        try:
            mentions = [mention for mention in self._training_mentions(docs) if mention.candidates]
        finally:
            self._training = False
        reranker, self.reranker = self.reranker, None
        try:
            self._score(mentions)
        finally:
            self.reranker = reranker
        return [item for _, _, item in self.rerank_items(mentions, training=True)]

    def _rerank(self, mentions: Sequence[_Mention]) -> None:
        chosen = self.rerank_items(mentions)
        if not chosen or self.reranker is None or self.reranker_settings is None:
            return
        items = [item for _, _, item in chosen]
        scores = self.reranker.scores(items, max_candidates=int(self.reranker_settings["max_candidates"]))
        for (mention, rows, _), combined in zip(chosen, self.reranker.combine(items, scores), strict=True):
            probabilities = mention.probabilities.copy()  # type: ignore[union-attr]
            mass = float(probabilities[rows].sum())
            probabilities[rows] = mass * combined
            mention.probabilities = probabilities

    def _require_model(self) -> LinkScorer:
        if self.model is None:
            raise ModelError(f"{self.name}: the linker has no model yet; initialize and train it, or load one")
        return self.model

    # --- the component contract -----------------------------------------------------------------------------

    def predict(self, docs: Sequence[Doc]) -> list[list[LinkPrediction]]:
        """Score every linkable span's candidates; returns, per document, one `LinkPrediction` per span."""
        if not any(self._linkable(doc) for doc in docs):
            return [[] for _ in docs]
        if self.model is None:
            self._build_model()
        mentions = self._mentions(docs, held_out=False)
        self._score(mentions)
        output: list[list[LinkPrediction]] = [[] for _ in docs]
        for mention in mentions:
            output[mention.doc].append(LinkPrediction(mention.position, tuple(mention.candidates),
                                                      mention.probabilities))  # type: ignore[arg-type]
        return output

    def set_annotations(self, docs: Sequence[Doc], predictions: Sequence[Sequence[LinkPrediction]]) -> None:
        """Write ``kb_id``, ``link_score`` and the scored candidates into each predicted span."""
        for doc, found in zip(docs, predictions, strict=True):
            if not found:
                continue
            spans = list(doc.ents)
            for prediction in found:
                spans[prediction.position] = self._decide(spans[prediction.position], prediction)
            doc.ents = spans

    def _decide(self, span: Span, prediction: LinkPrediction) -> Span:
        probabilities = prediction.probabilities
        scored = sorted(
            (candidate.replace(score=float(probability))
             for candidate, probability in zip(prediction.candidates, probabilities[:-1], strict=True)),
            key=lambda candidate: (-(candidate.score or 0.0), candidate.entity_id),
        )
        nil_probability = float(probabilities[-1])
        attrs = {**span.attrs, "nil_score": round(nil_probability, 6)}
        if not scored:
            return span.replace(kb_id=NIL, link_score=1.0, candidates=(), attrs=attrs)
        best = scored[0]
        score = best.score or 0.0
        if score < nil_probability or (self.threshold is not None and score < self.threshold):
            return span.replace(kb_id=NIL, link_score=nil_probability,
                                candidates=tuple(scored[: self.store_candidates]), attrs=attrs)
        label = span.label
        if self.relabel:
            types = self.kb.get_entity(best.entity_id).types
            label = types[0] if types else label
        return span.replace(kb_id=best.entity_id, label=label, link_score=score,
                            candidates=tuple(scored[: self.store_candidates]), attrs=attrs)

    # --- learning -------------------------------------------------------------------------------------------

    def initialize(self, get_examples: Callable[[], Iterable[Any]], *, kb: KnowledgeBase | str | None = None,
                   show_progress: bool = False) -> None:
        """Learn the tables (mention counts, idf, entity contexts) from gold documents and make fresh weights.

        Args:
            get_examples: Returns ``Example`` objects or documents whose ``ents`` carry gold ``kb_id`` values.
            kb: The KB to use (default: the configured one).
            show_progress: Show progress bars (on stderr).
        """
        if kb is not None:
            self.set_kb(kb)
        docs = [_reference(item) for item in get_examples()]
        self.labels = ["", *sorted({span.label for doc in docs for span in doc.ents if span.label})]
        block = max(1, self.held_out_block)
        self._held_keys = {doc_key(doc): f"block-{number // block}" for number, doc in enumerate(docs)}
        self.table = MentionTable(self.normalizer)
        if self.use_table:
            self.table.add_docs(docs, resolve=self.kb.resolve, abbreviations=self.abbreviations,
                                file_key=self._held_key)
        if self.incl_context:
            self.vectors = self._load_vectors(docs, show_progress)
            self.vectors.fit_idf(doc.words[start:end] for doc in docs for start, end in sentence_bounds(doc))
            self.entity_contexts = EntityContexts(self.vectors.dim)
            self.memory = MentionMemory(self.vectors.dim)
            remember = self.use_memory and self.use_table
            for doc in docs:
                spans = [span for span in doc.ents if span.kb_id]
                if not spans:
                    continue
                key = self._held_key(doc)
                defined = find_abbreviations(doc.text) if self.abbreviations and remember else {}
                for span, contexts in zip(spans, self.vectors.mention_contexts(doc, spans, self.n_sents),
                                          strict=True):
                    entities = [] if span.kb_id == NIL else _gold_ids(span.kb_id, self.kb)
                    for entity in entities:
                        self.entity_contexts.add(key, entity, contexts[0])
                    if remember and (entities or span.kb_id == NIL):
                        text = (expand(span.text, defined) if defined else None) or span.text
                        self.memory.add(self.normalizer(text), entities[0] if entities else NIL, key, doc_key(doc),
                                        contexts)
        else:
            self.vectors = None
            self.entity_contexts = EntityContexts(0)
            self.memory = MentionMemory(0)
        self._infos = {}
        self._cache = {}
        self.initialize_report = {
            "documents": len(docs),
            "gold_mentions": sum(1 for doc in docs for span in doc.ents if span.kb_id),
            "nil_mentions": sum(1 for doc in docs for span in doc.ents if span.kb_id == NIL),
            "ids_not_in_kb": sum(1 for doc in docs for span in doc.ents
                                 if span.kb_id and span.kb_id != NIL and not _gold_ids(span.kb_id, self.kb)),
        }
        types = {"", "UNK"}
        for doc in docs:
            for span in doc.ents:
                for entity in _gold_ids(span.kb_id, self.kb) if span.kb_id and span.kb_id != NIL else ():
                    types.update(self.kb.get_entity(entity).types[:1])
        self.types = ["", "UNK", *sorted(types - {"", "UNK"})]
        self._build_model()

    def _load_vectors(self, docs: Sequence[Doc], show_progress: bool) -> ContextVectors:
        from elkit.encoders.vectors import VectorsSettings, distill_vectors, open_vectors

        if self.vectors_path:
            spec = self.vectors_path
            words, matrix = open_vectors(VectorsSettings(**spec) if isinstance(spec, dict) else spec)
            return ContextVectors(words, matrix.float().numpy())
        vocabulary = {word.lower() for doc in docs for word in doc.words}
        if self.kb.entity_count <= 200_000:
            import re

            for entity_id in self.kb.entity_ids():
                vocabulary.update(word.lower() for word in re.findall(r"\w+", self.kb.get_entity(entity_id).text()))
        words, matrix = distill_vectors(sorted(vocabulary), show_progress=show_progress)
        return ContextVectors(words, matrix.float().numpy())

    def _build_model(self) -> None:
        torch.manual_seed(self.seed)
        dim = self.vectors.dim if self.vectors and self.incl_context and self.projection else 0
        self.model = LinkScorer(len(FEATURES), len(NIL_FEATURES), self._pair_count(), len(self.labels), dim,
                                hidden=self.hidden_width, projection=self.projection or 64, dropout=self.dropout)
        self._optimizer = None

    def make_optimizer(self) -> torch.optim.Optimizer:
        """A fresh AdamW optimizer over the scorer's weights."""
        return torch.optim.AdamW(self._require_model().parameters(), lr=self.learning_rate,
                                 weight_decay=self.weight_decay)

    def _training_mentions(self, docs: Sequence[Doc]) -> list[_Mention]:
        mentions: list[_Mention] = []
        for doc in docs:
            key = doc_key(doc)
            cached = self._cache.get(key)
            if cached is None:
                cached = [mention for mention in self._mentions([doc], held_out=True) if mention.gold]
                self._cache[key] = cached
            mentions.extend(cached)
        return mentions

    def update(self, examples: Iterable[Any], *, drop: float | None = None, sgd: Any = None,
               losses: dict[str, float] | None = None) -> dict[str, float]:
        """One step on gold documents: listwise cross-entropy over each mention's candidates and NIL, both passes.

        Mentions whose gold entity is not among their candidates teach nothing and are skipped.
        """
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        docs = [_reference(item) for item in examples]
        model = self._require_model()
        self._training = True
        try:
            mentions = [mention for mention in self._training_mentions(docs) if mention.candidates]
        finally:
            self._training = False
        if not mentions:
            return losses
        optimizer = sgd if sgd is not None else self._optimizer
        if optimizer is None:
            optimizer = self._optimizer = self.make_optimizer()
        model.train()
        if drop is not None:
            for module in model.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.p = drop
        self._reset_coherence(mentions)
        loss = self._loss(model, mentions)
        if self.coherence:
            with torch.no_grad():
                logits = model(self._batch(mentions))
            probabilities = [
                torch.softmax(torch.cat([logits[row, : len(mention.candidates)], logits[row, -1:]]), dim=0).numpy()
                for row, mention in enumerate(mentions)
            ]
            self._coherence(mentions, probabilities)
            loss = loss + self._loss(model, mentions)
            self._reset_coherence(mentions)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses[self.name] += float(loss.detach())
        return losses

    def _loss(self, model: LinkScorer, mentions: Sequence[_Mention]) -> torch.Tensor:
        logits = model(self._batch(mentions))  # [B, C + 1]
        width = logits.shape[1] - 1
        target = torch.zeros_like(logits, dtype=torch.bool)
        for row, mention in enumerate(mentions):
            for gold in mention.gold:
                target[row, width if gold == len(mention.candidates) else gold] = True
        log_probabilities = torch.log_softmax(logits, dim=-1)
        gold_mass = torch.logsumexp(log_probabilities.masked_fill(~target, -1e4), dim=-1)
        return -gold_mass.mean()

    def finish_training(self) -> None:
        """Drop the training caches and per-document splits (call once training is over)."""
        self._cache = {}
        self.entity_contexts.freeze()
        self.memory.freeze()
        self._infos = {}

    # --- saving ---------------------------------------------------------------------------------------------

    def _files(self) -> dict[str, bytes]:
        model = self._require_model()
        tensors = {f"model.{key}": value.detach().clone().contiguous() for key, value in model.state_dict().items()}
        words: list[str] = []
        if self.vectors is not None:
            tensors["vectors"] = torch.from_numpy(self.vectors.matrix).to(torch.float16)
            tensors["idf"] = torch.from_numpy(self.vectors.idf)
            words = self.vectors.words
        entity_ids, sums, counts = self.entity_contexts.arrays()
        tensors["entity_sums"] = torch.from_numpy(sums).contiguous()
        tensors["entity_counts"] = torch.from_numpy(counts)
        memory_rows, memory_local, memory_document_rows, memory_documents = self.memory.arrays()
        if memory_rows:
            tensors["memory_local"] = torch.from_numpy(memory_local.astype(np.float16)).contiguous()
            tensors["memory_document_rows"] = torch.from_numpy(memory_document_rows).contiguous()
            tensors["memory_documents"] = torch.from_numpy(memory_documents.astype(np.float16)).contiguous()
        meta = {
            "format": _FORMAT, "labels": self.labels, "types": self.types, "features": list(FEATURES),
            "nil_features": list(NIL_FEATURES), "dim": model.dim, "vector_dim": self.vectors.dim if self.vectors else 0,
        }
        files = {
            _MODEL_JSON: json.dumps(meta, indent=2).encode("utf-8"),
            _WEIGHTS: save_tensors(tensors),
            "vector_words.txt": "\n".join(words).encode("utf-8"),
            "entity_ids.txt": "\n".join(entity_ids).encode("utf-8"),
            "table.json": json.dumps(self.table.to_dict(), ensure_ascii=False).encode("utf-8"),
            "memory.txt": "\n".join(memory_rows).encode("utf-8"),
        }
        return files

    def to_disk(self, path: str | Path) -> None:
        """Write the model, its tables and (when one is set) a copy of the KB into the folder ``path``."""
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self._files().items():
            (directory / name).write_bytes(data)
        if self._kb is not None and (self._kb.entity_count or self.kb_path):
            target = directory / _KB_DIR
            if target.exists():
                shutil.rmtree(target)
            source = getattr(self._kb, "path", None)
            if source is not None:
                shutil.copytree(source, target)
            elif isinstance(self._kb, InMemoryKB):
                self._kb.to_disk(target)
        if self.reranker is not None:
            self.reranker.to_disk(directory / _RERANKER_DIR)

    def from_disk(self, path: str | Path) -> Self:
        """Load a linker saved by :meth:`to_disk` (and its KB copy, when there is one)."""
        directory = Path(path)
        if not (directory / _MODEL_JSON).is_file():
            raise ModelError(f"{directory}: no {_MODEL_JSON}; was the linker trained and saved?")
        names = (_MODEL_JSON, _WEIGHTS, "vector_words.txt", "entity_ids.txt", "table.json", "memory.txt")
        self._load_files({name: (directory / name).read_bytes() for name in names if (directory / name).is_file()},
                         str(directory))
        if (directory / _KB_DIR).is_dir():
            self.set_kb(directory / _KB_DIR)
        self.reranker = (CrossEncoderReranker.from_disk(directory / _RERANKER_DIR)
                         if (directory / _RERANKER_DIR).is_dir() else None)
        if self.reranker is not None and self.reranker_settings is None:
            self.reranker_settings = dict(_DEFAULT_RERANKER)
        return self

    def _load_files(self, files: Mapping[str, bytes], where: str) -> None:
        try:
            meta = json.loads(files[_MODEL_JSON])
            tensors = load_tensors(files[_WEIGHTS])
        except (KeyError, ValueError) as error:
            raise ModelError(f"{where}: damaged or incomplete linker files ({error})") from None
        if meta.get("format") != _FORMAT or meta.get("features") != list(FEATURES):
            raise ModelError(f"{where}: not a model of this linker version ({meta.get('format')})")
        self.labels = list(meta["labels"])
        self.types = list(meta["types"])
        words = files.get("vector_words.txt", b"").decode("utf-8")
        if "vectors" in tensors:
            self.vectors = ContextVectors(words.split("\n") if words else [], tensors["vectors"].float().numpy(),
                                          tensors["idf"].numpy())
        else:
            self.vectors = None
        entity_ids = files.get("entity_ids.txt", b"").decode("utf-8")
        self.entity_contexts = EntityContexts(int(meta.get("vector_dim", 0)))
        if entity_ids:
            self.entity_contexts.load_arrays(entity_ids.split("\n"), tensors["entity_sums"].float().numpy(),
                                             tensors["entity_counts"].numpy())
        self.table = MentionTable(self.normalizer)
        self.table.load_dict(json.loads(files.get("table.json", b"{}")))
        self.memory = MentionMemory(int(meta.get("vector_dim", 0)))
        memory_rows = files.get("memory.txt", b"").decode("utf-8")
        if memory_rows and "memory_local" in tensors:
            try:
                self.memory.load_arrays(memory_rows.split("\n"), tensors["memory_local"].numpy(),
                                        tensors["memory_document_rows"].numpy(), tensors["memory_documents"].numpy())
            except (KeyError, ValueError) as error:
                raise ModelError(f"{where}: damaged linker memory ({error})") from None
        self.model = LinkScorer(len(FEATURES), len(NIL_FEATURES), self._pair_count(), len(self.labels),
                                int(meta["dim"]), hidden=self.hidden_width, projection=self.projection or 64,
                                dropout=self.dropout)
        state = {key[len("model."):]: value for key, value in tensors.items() if key.startswith("model.")}
        try:
            self.model.load_state_dict(state)
        except RuntimeError as error:
            raise ModelError(f"{where}: the weights do not fit the configured linker ({error})") from None
        self.model.eval()
        self._infos = {}
        self._cache = {}
        self._optimizer = None

    def to_bytes(self) -> bytes:
        """The model, its tables and the reranker as bytes (the KB is not included: set it with :meth:`set_kb`)."""
        files = self._files()
        if self.reranker is not None:
            with tempfile.TemporaryDirectory() as folder:
                self.reranker.to_disk(folder)
                for path in sorted(Path(folder).rglob("*")):
                    if path.is_file():
                        files[f"{_RERANKER_DIR}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
        return pack_files(files)

    def from_bytes(self, data: bytes) -> Self:
        """Load a model from :meth:`to_bytes` output."""
        files = unpack_files(data, f"{self.name} (EntityLinker bytes)")
        self._load_files(files, self.name)
        prefix = f"{_RERANKER_DIR}/"
        reranker_files = {name[len(prefix):]: value for name, value in files.items() if name.startswith(prefix)}
        self.reranker = None
        if reranker_files:
            with tempfile.TemporaryDirectory() as folder:
                for name, value in reranker_files.items():
                    target = Path(folder) / name
                    if Path(folder).resolve() not in target.resolve().parents:
                        raise ModelError(f"{self.name}: bad reranker file name {name!r} in the linker bytes")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(value)
                self.reranker = CrossEncoderReranker.from_disk(folder)
            if self.reranker_settings is None:
                self.reranker_settings = dict(_DEFAULT_RERANKER)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_optimizer"] = None
        state["_cache"] = {}
        state["_generator"] = None
        kb = state.get("_kb")
        if kb is not None and getattr(kb, "path", None) is not None:
            state["_kb"] = None
            state["_kb_reopen"] = str(kb.path)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        reopen = state.pop("_kb_reopen", None)
        self.__dict__.update(state)
        if reopen is not None:
            from elkit.kb import open_kb

            self._kb = open_kb(reopen)

    def __repr__(self) -> str:
        return f"EntityLinker(name={self.name!r}, kb={self.kb_path!r}, trained={self.model is not None})"


def _reference(item: Example | Doc) -> Doc:
    if isinstance(item, Example):
        return item.reference
    if isinstance(item, Doc):
        return item
    raise DataError(f"expected an Example or a Doc, got {type(item).__name__}")


def _gold_ids(kb_id: str, kb: KnowledgeBase) -> list[str]:
    """The KB ids a gold ``kb_id`` stands for: itself, or the parts of a composite id ("D1|D2", "D1+D2")."""
    resolved = kb.resolve(kb_id)
    if resolved is not None:
        return [resolved]
    parts = [part for part in kb_id.replace("+", "|").split("|") if part]
    found = [kb.resolve(part) for part in parts] if len(parts) > 1 else []
    return [part for part in found if part is not None]


def _contains(longer: Sequence[str], shorter: Sequence[str]) -> bool:
    """True when the words `shorter` appear in order, contiguously, in `longer`."""
    size = len(shorter)
    return any(list(longer[start: start + size]) == list(shorter) for start in range(len(longer) - size + 1))


def shuffled(items: Sequence[Any], seed: int) -> list[Any]:
    """A seeded shuffled copy."""
    copy_ = list(items)
    random.Random(seed).shuffle(copy_)
    return copy_


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
    vectors: str | dict[str, Any] | None = None,
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
