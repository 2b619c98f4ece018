"""The entity linker's settings (``elkit.EntityLinker.v1``): read by the factory, the constructor and ``config``."""

from __future__ import annotations

import pydantic

from elkit.candidates import CandidateSettings
from elkit.encoders.vectors import VectorsSettings
from elkit.kb.declared import KBSettings
from elkit.linking.features import FEATURE_GROUPS
from elkit.linking.reranker import RerankerSettings
from elkit.settings import PathText, Settings

__all__ = ["EntityLinkerSettings"]


class EntityLinkerSettings(Settings):
    """How the entity linker finds, scores and decides.

    Attributes:
        kb: The KB: a KB folder (``elkit kb build``), or a table with the folder and its sources, built the first
            time it is missing (`elkit.kb.declared.KBSettings`); or set one with ``set_kb``.
        labels_discard: Span labels never linked (their ``kb_id`` is left as it is).
        n_sents: Sentences either side of the mention's sentence in its local context (-1: the whole document).
        incl_prior: Use the KB's alias priors and the mention → entity counts from training.
        incl_context: Use context vectors (local and document) against entity vectors.
        threshold: Below this probability the best candidate gives way to NIL (None: only the NIL option).
        overwrite: Relink spans that already have a ``kb_id``.
        candidates: Candidate generation (`elkit.candidates.CandidateSettings`).
        vectors: Static word vectors: a folder (``elkit vectors distill``), or a table with the folder and how to
            build it (`elkit.encoders.vectors.VectorsSettings`); None distils vectors for the training and KB words
            from the default encoder at initialisation.
        hidden_width: Width of the scorer's hidden layers.
        dropout: Dropout while training.
        learning_rate: AdamW learning rate.
        coherence: Run the second, document-coherence pass.
        use_table: Learn mention → entity counts from training data (a candidate source and a feature).
        store_candidates: How many scored candidates each span keeps.
        projection: Width of the learned bilinear context × entity scores (0: only the fixed cosines, which
            generalise better when training documents are few).
        weight_decay: AdamW weight decay.
        relabel: Give each linked span its entity's first type as label (for dictionary-matched mentions, whose
            label is only a guess).
        reranker: The optional cross-encoder reranker (`RerankerSettings`; None: no reranker). It is trained by
            ``elkit train`` after the first stage and saved in the component's ``reranker/`` folder.
        abbreviations: Look up a mention that is an abbreviation defined in its document ("coronary heart disease
            (CHD)", Schwartz-Hearst) by its long form: candidates, training counts and string features.
        held_out_block: While training, a mention's features come from tables without its own document; with a
            block of N, without the N consecutive training documents around it too (news collections repeat a
            story across neighbouring documents, which makes the counts look more reliable than on new text).
        memory: Keep every training mention's context vectors and score a candidate by its share of the weight of
            the nearest earlier occurrences of the same text (`MentionMemory`); needs ``use_table`` and
            ``incl_context``.
        coreference: Read a short mention through the longer mentions of its document that contain it ("Smith"
            after "John Smith"): their candidates are added to its own, with a feature for how strongly they
            point at each (`elkit.linking.coreference`).
        features_off: Feature groups the scorer does without (`elkit.linking.features.FEATURE_GROUPS`: prior,
            table, popularity, names, sources, context, learned, memory, coreference, patterns, types); for
            ablations, and for KBs or data that lack what a group reads.
        seed: Seed for weights and shuffling.
    """

    kb: PathText | KBSettings | None = None
    labels_discard: list[str] = []
    n_sents: int = pydantic.Field(0, ge=-1)
    incl_prior: bool = True
    incl_context: bool = True
    threshold: float | None = pydantic.Field(None, ge=0.0, le=1.0)
    overwrite: bool = True
    candidates: CandidateSettings = CandidateSettings()
    vectors: PathText | VectorsSettings | None = None
    hidden_width: int = pydantic.Field(64, ge=1)
    dropout: float = pydantic.Field(0.1, ge=0.0, lt=1.0)
    learning_rate: float = pydantic.Field(0.003, gt=0.0)
    coherence: bool = True
    use_table: bool = True
    store_candidates: int = pydantic.Field(10, ge=0)
    projection: int = pydantic.Field(0, ge=0)
    weight_decay: float = pydantic.Field(0.0, ge=0.0)
    relabel: bool = False
    reranker: RerankerSettings | None = None
    abbreviations: bool = False
    held_out_block: int = pydantic.Field(1, ge=1)
    memory: bool = True
    coreference: bool = True
    features_off: list[str] = []
    seed: int = 0

    @pydantic.field_validator("features_off")
    @classmethod
    def _known_groups(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(FEATURE_GROUPS))
        if unknown:
            raise ValueError(f"unknown feature group(s) {', '.join(unknown)}; known: {', '.join(FEATURE_GROUPS)}")
        return value
