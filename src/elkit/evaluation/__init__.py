"""Evaluation: NER precision / recall / F1 overall and per label."""

from elkit.evaluation.ner import NERScores, evaluate_ner, score_entities

__all__ = ["NERScores", "evaluate_ner", "score_entities"]
