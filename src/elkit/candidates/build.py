"""The candidate generator set a component declares in its settings, built over a KB.

A linker's ``[candidates]`` section names the generators (any of exact, normalized, fuzzy and dense, merged by
`UnionGenerator`) and how many candidates a mention keeps; the training-count table, when the component has one,
adds the entities seen in training after them (`AppendGenerator`, `TableGenerator`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pydantic

from elkit.candidates.generators import (
    AppendGenerator,
    CandidateGenerator,
    DenseGenerator,
    ExactGenerator,
    FuzzyGenerator,
    NormalizedGenerator,
    UnionGenerator,
)
from elkit.candidates.table import MentionTable, TableGenerator
from elkit.kb.base import KnowledgeBase
from elkit.settings import Settings

__all__ = ["CandidateSettings", "GeneratorName", "build_generator"]

GeneratorName = Literal["exact", "normalized", "fuzzy", "dense"]


class CandidateSettings(Settings):
    """Which generators find a mention's candidates, and how many are kept.

    Attributes:
        generators: Any of exact, normalized, fuzzy and dense (dense only counts when the KB has vectors).
        limit: Candidates kept per mention (also the fuzzy and dense generators' own limit).
        fuzzy_min_score: The lowest string similarity the fuzzy generator keeps.
        fuzzy_budget: The most 3-gram index postings the fuzzy generator reads per mention (None: the KB's
            default, 1/16 of its postings and at least 16,384).
    """

    generators: list[GeneratorName] = pydantic.Field(
        default_factory=lambda: ["exact", "normalized", "fuzzy"], min_length=1)
    limit: int = pydantic.Field(30, ge=1)
    fuzzy_min_score: float = pydantic.Field(0.6, ge=0.0, le=1.0)
    fuzzy_budget: int | None = pydantic.Field(None, ge=1)


_GENERATORS: dict[str, Callable[[KnowledgeBase, CandidateSettings], CandidateGenerator | None]] = {
    "exact": lambda kb, settings: ExactGenerator(kb),
    "normalized": lambda kb, settings: NormalizedGenerator(kb),
    "fuzzy": lambda kb, settings: FuzzyGenerator(kb, limit=settings.limit, min_score=settings.fuzzy_min_score,
                                                 budget=settings.fuzzy_budget),
    "dense": lambda kb, settings: DenseGenerator(kb, limit=settings.limit) if kb.vector_dim else None,
}
"""Each generator name → how it is made from the settings (None: the KB cannot serve it, so it is left out)."""


def build_generator(kb: KnowledgeBase, settings: CandidateSettings | None = None,
                    table: MentionTable | None = None, device: object = None) -> UnionGenerator | AppendGenerator:
    """The generator set `settings` declares over `kb`.

    Args:
        kb: The knowledge base.
        settings: The generators and limits (the defaults when None).
        table: Training counts whose entities come after the KB's candidates (`TableGenerator`); the table is
            read at lookup time, so it may be filled later.
        device: Where the dense generator's text encoder runs (a torch device or its name; None: the CPU).

    Returns:
        A generator with ``batch(mentions)``; with a table, ``batch`` also takes ``left_out`` (the training block
        each mention's counts leave out).
    """
    settings = settings or CandidateSettings()
    made = [_GENERATORS[name](kb, settings) for name in settings.generators]
    for generator in made:
        if isinstance(generator, DenseGenerator):
            generator.device = device
    union = UnionGenerator([generator for generator in made if generator is not None], limit=settings.limit)
    return union if table is None else AppendGenerator(union, TableGenerator(table, kb))
