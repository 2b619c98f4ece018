"""``GeneralLinker``: link to any KB with no annotated data from its domain (``elkit.GeneralLinker.v1``).

A scorer shipped with elkit, trained on the annotated linking corpora at hand (AIDA, NCBI-disease, BC5CDR) over
features that every KB has (`elkit.linking.general_features`), ranks each mention's candidates and a NIL option.
Nothing it reads is an entity id or a type string as such, so it carries to a KB it never saw: a label agrees
with an entity's type by the meaning of the two texts, context agrees with the entity's description by MiniLM
cosine. Its probabilities are calibrated on held-out mentions; a name the KB lacks gets NIL.

The stages are the trained linker's: mentions (`linking.mentions`), candidates (`elkit.candidates`: exact,
normalised and fuzzy aliases, dense when the KB has vectors), document coreference, features, scorer, decision
(`linking.decision`).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pydantic
import torch

from elkit.batching import PredictThenAnnotate
from elkit.candidates import CandidateSettings, MentionTable, UnionGenerator, build_generator
from elkit.doc import Candidate, Doc
from elkit.errors import ConfigError
from elkit.io.pack import pack_files, unpack_files
from elkit.kb.base import KnowledgeBase
from elkit.kb.declared import KBSettings, as_kb, kb_from_setting
from elkit.kb.memory import InMemoryKB
from elkit.kb.normalize import AliasNormalizer
from elkit.linking.coreference import CoreferenceEvidence, coreference_evidence
from elkit.linking.decision import LinkPrediction, write_links
from elkit.linking.entity_vectors import EntityVectors
from elkit.linking.general_features import EmbeddingCache, GeneralInput, general_inputs
from elkit.linking.general_model import (
    SHIPPED_GENERAL,
    GeneralScorer,
    load_scorer,
    save_scorer,
    scorer_files,
    scorer_from_files,
)
from elkit.linking.generation import generate_candidates
from elkit.linking.mentions import Mention, find_mentions, linkable_spans
from elkit.registry import factories
from elkit.settings import PathText, Settings, validate_settings

__all__ = ["GeneralLinker", "GeneralLinkerSettings", "make_general_linker"]

_KB_FOLDER = "kb"
_VECTORS_FOLDER = "entity_vectors"


class GeneralLinkerSettings(Settings):
    """How the general linker finds candidates and decides.

    Attributes:
        kb: The KB: a folder (``elkit kb build``) or a table with the folder and its sources; or ``set_kb``.
        model: "shipped" (the scorer that comes with elkit) or a folder saved by ``save_scorer`` /
            ``elkit.training.general_linker``.
        threshold: Below this probability the best candidate gives way to NIL (None: only the NIL option).
        labels_discard: Span labels never linked.
        overwrite: Relink spans that already have a ``kb_id``.
        candidates: Candidate generation (`elkit.candidates.CandidateSettings`; dense counts only when the KB
            has vectors).
        store_candidates: How many scored candidates each span keeps.
        context_characters: Characters of text either side of a mention read as its context.
        coreference: Read a short mention through a longer one of its document ("Smith" after "John Smith").
        relabel: Give each linked span its entity's first type as label.
        encoder: The text encoder (a local model folder; None: the default all-MiniLM-L6-v2). The shipped
            scorer was trained with the default one.
        entity_vectors: A folder of the KB's entity vectors computed once (`precompute_entity_vectors`): the
            candidates' texts and names are read from it instead of encoded while linking. It must have been
            built from this KB with this encoder (checked when it is opened).
    """

    kb: PathText | KBSettings | None = None
    model: str = "shipped"
    threshold: float | None = pydantic.Field(None, ge=0.0, le=1.0)
    labels_discard: list[str] = []
    overwrite: bool = True
    candidates: CandidateSettings = CandidateSettings(generators=["exact", "normalized", "fuzzy", "dense"])
    store_candidates: int = pydantic.Field(10, ge=0)
    context_characters: int = pydantic.Field(200, ge=0)
    coreference: bool = True
    relabel: bool = False
    encoder: str | None = None
    entity_vectors: PathText | None = None


class GeneralLinker(PredictThenAnnotate):
    """Links spans to a KB with a scorer that needs no training on it.

    Args:
        name: Component name.
        settings: The settings (`GeneralLinkerSettings`); or give them as keyword arguments.
        **values: Settings by name, when ``settings`` is not given.

    Raises:
        ConfigError: A setting is unknown or has a bad value.
    """

    def __init__(self, name: str = "entity_linker", settings: GeneralLinkerSettings | None = None,
                 **values: Any) -> None:
        if settings is not None and values:
            raise ConfigError(f"{name}: give settings or keyword settings, not both")
        self.name = name
        self.settings = validate_settings(GeneralLinkerSettings, settings if settings is not None else values, name)
        self.normalizer = AliasNormalizer()
        self._kb: KnowledgeBase | None = None
        self._generator: UnionGenerator | None = None
        self._embed: EmbeddingCache | None = None
        self._scorer: GeneralScorer | None = None
        self._entity_vectors: EntityVectors | None = None
        self.device = torch.device("cpu")
        self.meta: dict[str, Any] = {}

    @property
    def config(self) -> dict[str, Any]:
        """The settings as config values."""
        return self.settings.to_config()

    @property
    def threshold(self) -> float | None:
        """Below this probability a mention gets NIL."""
        return self.settings.threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        self.settings = validate_settings(GeneralLinkerSettings, {**self.settings.to_config(), "threshold": value},
                                          self.name)

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base (opened from the ``kb`` setting on first use; an empty one when there is none)."""
        if self._kb is None:
            self._kb = kb_from_setting(self.settings.kb)
        return self._kb

    def set_kb(self, kb: KnowledgeBase | str | Path) -> None:
        """Use this KB (an object or a KB folder) from now on."""
        self._kb = as_kb(kb)
        self._generator = None
        self._entity_vectors = None

    @property
    def scorer(self) -> GeneralScorer:
        """The scorer (the shipped one, or the ``model`` folder's, loaded on first use)."""
        if self._scorer is None:
            folder = SHIPPED_GENERAL if self.settings.model == "shipped" else Path(self.settings.model)
            self.set_scorer(*load_scorer(folder))
        assert self._scorer is not None
        return self._scorer

    def set_scorer(self, scorer: GeneralScorer, meta: dict[str, Any] | None = None) -> None:
        """Use this scorer from now on, on the linker's device."""
        self._scorer = scorer.to(self.device)
        self.meta = dict(meta or {})

    def to_device(self, device: torch.device) -> None:
        """Run on ``device`` from now on: the scorer and the text encoder move there (see :mod:`elkit.devices`)."""
        self.device = device
        if self._scorer is not None:
            self._scorer.to(device)
        encoder = self._embed.encoder if self._embed is not None else None
        if encoder is not None and hasattr(encoder, "to_device"):
            encoder.to_device(device)
        self._generator = None

    @property
    def embed(self) -> EmbeddingCache:
        """The text encoder with its cache of entity, label and type texts."""
        if self._embed is None:
            from elkit.encoders import TextEncoder

            self._embed = EmbeddingCache(TextEncoder(self.settings.encoder, device=self.device))
        return self._embed

    def set_encoder(self, encoder: object) -> None:
        """Encode texts with this encoder (``encode(texts)`` and ``dim``), sharing it with other components."""
        self._embed = EmbeddingCache(encoder)
        self._entity_vectors = None

    @property
    def entity_vectors(self) -> EntityVectors | None:
        """The KB's precomputed entity vectors (the ``entity_vectors`` setting, opened on first use), or None."""
        folder = self.settings.entity_vectors
        if self._entity_vectors is None and folder is not None:
            self._entity_vectors = EntityVectors(folder, self.kb, self.embed.encoder)
        return self._entity_vectors

    def precompute_entity_vectors(self, folder: str | Path, show_progress: bool = False) -> EntityVectors:
        """Encode every entity of the KB once, write the vectors to `folder`, and link with them from now on.

        Worth it when many documents are linked against one KB: encoding the candidates' texts is most of
        what linking costs otherwise. A folder already built from this KB and encoder is reused as it is.

        Args:
            folder: Where the vectors go (about 1.5 kB per entity).
            show_progress: Show a progress bar on stderr.
        """
        self.settings = self.settings.model_copy(update={"entity_vectors": str(folder)})
        self._entity_vectors = None
        try:
            return self.entity_vectors  # type: ignore[return-value]
        except ConfigError:
            pass
        if not show_progress:
            self._entity_vectors = EntityVectors.build(self.kb, self.embed.encoder, folder)
            return self._entity_vectors
        from elkit.progress import progress_bar

        with progress_bar() as progress:
            task = progress.add_task(f"{self.name}: encoding the KB's entity texts and names",
                                     total=2 * self.kb.entity_count)
            self._entity_vectors = EntityVectors.build(
                self.kb, self.embed.encoder, folder, progress=lambda done: progress.advance(task, done))
        return self._entity_vectors

    # --- the line of stages ---------------------------------------------------------------------------------

    def mentions_and_candidates(self, docs: Sequence[Doc], training: bool = False
                                ) -> tuple[list[Mention], list[tuple[Candidate, ...]]]:
        """The mentions of `docs` (while training: the gold spans) and their KB candidates."""
        mentions = self.mentions(docs, training)
        return mentions, self.candidates(mentions)

    def mentions(self, docs: Sequence[Doc], training: bool = False) -> list[Mention]:
        """The spans of `docs` to link (while training: the gold spans, those with a ``kb_id``)."""
        settings = self.settings
        return find_mentions(docs, labels_discard=settings.labels_discard, overwrite=settings.overwrite,
                             abbreviations=False, block_key=(lambda doc: "") if training else None)

    def candidates(self, mentions: Sequence[Mention]) -> list[tuple[Candidate, ...]]:
        """Each mention's KB candidates (looked up by ``mention.text``)."""
        if self._generator is None:
            generator = build_generator(self.kb, self.settings.candidates, None, device=self.device)
            assert isinstance(generator, UnionGenerator)
            self._generator = generator
        return generate_candidates(mentions, self.kb, self._generator, MentionTable(self.normalizer))

    def inputs(self, docs: Sequence[Doc], mentions: Sequence[Mention], candidates: Sequence[Sequence[Candidate]]
               ) -> list[GeneralInput]:
        """Coreference, then the features of each mention's candidates."""
        evidence: list[CoreferenceEvidence]
        if self.settings.coreference:
            candidates, evidence = coreference_evidence(mentions, candidates, self.normalizer)
        else:
            evidence = [({}, False) for _ in mentions]
        return general_inputs(docs, mentions, candidates, evidence, kb=self.kb, embed=self.embed,
                              normalizer=self.normalizer, context_chars=self.settings.context_characters,
                              precomputed=self.entity_vectors)

    def predict(self, docs: Sequence[Doc]) -> list[list[LinkPrediction]]:
        """Score every linkable span's candidates; per document, one `LinkPrediction` per span."""
        settings = self.settings
        if not any(linkable_spans(doc, settings.labels_discard, settings.overwrite) for doc in docs):
            return [[] for _ in docs]
        mentions, candidates = self.mentions_and_candidates(docs)
        inputs = self.inputs(docs, mentions, candidates)
        scorable = [item for item in inputs if item.candidates]
        found = iter(self.scorer.probabilities(scorable))
        output: list[list[LinkPrediction]] = [[] for _ in docs]
        for item in inputs:
            probabilities = next(found) if item.candidates else None
            output[item.mention.doc].append(LinkPrediction(
                item.mention.position, item.candidates,
                probabilities if probabilities is not None else np.ones(1, dtype=np.float32)))
        return output

    def set_annotations(self, docs: Sequence[Doc], predictions: Sequence[Sequence[LinkPrediction]]) -> None:
        """Write ``kb_id``, ``link_score``, the scored candidates and ``attrs["nil_score"]`` into each span."""
        write_links(docs, predictions, self.settings, self.kb)

    # --- saving ---------------------------------------------------------------------------------------------

    def to_disk(self, path: str | Path) -> None:
        """Write the scorer and (when they are set) copies of the KB and its entity vectors into the folder `path`."""
        directory = Path(path)
        save_scorer(self.scorer, directory, self._own_meta())
        kb = self._kb
        vectors = self.entity_vectors
        if vectors is not None and vectors.folder.resolve() == (directory / _VECTORS_FOLDER).resolve():
            vectors = None  # saved where it was loaded from: already there
        if kb is not None and kb.entity_count:
            target = directory / _KB_FOLDER
            shutil.rmtree(target, ignore_errors=True)
            source = getattr(kb, "path", None)
            if vectors is not None:
                shutil.rmtree(directory / _VECTORS_FOLDER, ignore_errors=True)
            if source is not None:
                shutil.copytree(source, target)
                if vectors is not None:  # the same KB files, so the same fingerprint
                    shutil.copytree(vectors.folder, directory / _VECTORS_FOLDER)
            elif isinstance(kb, InMemoryKB):
                kb.to_disk(target)
                if vectors is not None:  # a KB written from memory is stamped anew
                    vectors.save_for(as_kb(target), directory / _VECTORS_FOLDER)

    def from_disk(self, path: str | Path) -> Self:
        """Load what `to_disk` wrote."""
        directory = Path(path)
        self.set_scorer(*load_scorer(directory))
        if (directory / _KB_FOLDER).is_dir():
            self.set_kb(directory / _KB_FOLDER)
        if (directory / _VECTORS_FOLDER).is_dir():
            self.settings = self.settings.model_copy(update={"entity_vectors": str(directory / _VECTORS_FOLDER)})
            self._entity_vectors = None
        return self

    def to_bytes(self) -> bytes:
        """The scorer's files as bytes (the KB is not included: set it with ``set_kb`` after ``from_bytes``)."""
        return pack_files(scorer_files(self.scorer, self._own_meta()))

    def from_bytes(self, data: bytes) -> Self:
        """Load a scorer from `to_bytes` output."""
        where = f"{self.name} (GeneralLinker bytes)"
        self.set_scorer(*scorer_from_files(unpack_files(data, where), where))
        return self

    def _own_meta(self) -> dict[str, Any]:
        return {key: value for key, value in self.meta.items()
                if key not in ("format", "features", "nil_features", "hidden_width", "temperature")}

    def __getstate__(self) -> dict[str, Any]:
        state = {**self.__dict__, "_generator": None, "_embed": None, "_entity_vectors": None}
        kb = state.get("_kb")
        if kb is not None and getattr(kb, "path", None) is not None:
            state["_kb"] = str(kb.path)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if isinstance(self._kb, str):
            self.set_kb(self._kb)

    def __repr__(self) -> str:
        return f"GeneralLinker(name={self.name!r}, kb={self.settings.kb!r}, model={self.settings.model!r})"


@factories.register("elkit.GeneralLinker.v1", settings=GeneralLinkerSettings)
def make_general_linker(name: str, settings: GeneralLinkerSettings) -> GeneralLinker:
    """The general linker (see :class:`elkit.linking.general.GeneralLinker`)."""
    return GeneralLinker(name, settings)
