"""Candidate generation: exact, normalised, fuzzy and dense lookups in a KB, and their union."""

from elkit.candidates.generators import (
    DEFAULT_WEIGHTS,
    CandidateGenerator,
    DenseGenerator,
    ExactGenerator,
    FuzzyGenerator,
    NormalizedGenerator,
    UnionGenerator,
    mention_text,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "CandidateGenerator",
    "DenseGenerator",
    "ExactGenerator",
    "FuzzyGenerator",
    "NormalizedGenerator",
    "UnionGenerator",
    "mention_text",
]
