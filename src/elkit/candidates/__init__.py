"""Candidate generation: exact, normalised, fuzzy and dense lookups in a KB, training counts, and their union.

`build_generator` makes the set a component's `CandidateSettings` declare.
"""

from elkit.candidates.build import CandidateSettings, build_generator
from elkit.candidates.generators import (
    DEFAULT_WEIGHTS,
    AppendGenerator,
    CandidateGenerator,
    DenseGenerator,
    ExactGenerator,
    FuzzyGenerator,
    NormalizedGenerator,
    UnionGenerator,
    mention_text,
)
from elkit.candidates.table import MentionTable, TableGenerator

__all__ = [
    "DEFAULT_WEIGHTS",
    "AppendGenerator",
    "CandidateGenerator",
    "CandidateSettings",
    "DenseGenerator",
    "ExactGenerator",
    "FuzzyGenerator",
    "MentionTable",
    "NormalizedGenerator",
    "TableGenerator",
    "UnionGenerator",
    "build_generator",
    "mention_text",
]
