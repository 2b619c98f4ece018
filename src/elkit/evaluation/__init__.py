"""Evaluation: NER precision / recall / F1 overall and per label."""

from elkit.evaluation.linking import LinkScores, gold_id_set, score_links
from elkit.evaluation.ner import NERScores, evaluate_ner, score_entities

__all__ = ["LinkScores", "NERScores", "evaluate_ner", "gold_id_set", "score_entities", "score_links"]
