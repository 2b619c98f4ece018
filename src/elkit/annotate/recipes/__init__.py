"""Annotation recipes: what a session shows, in which order, and what the model learns from the answers.

A recipe turns a source file (and a model, patterns or a KB) into a stream of tasks in the Prodigy format:
``{"text", "tokens", "spans", "meta", "_input_hash", "_task_hash"}`` plus what its view needs ("options" for
entity choices, "versions" for review). The server serves the stream and stores the answers; the recipe checks
them and, for ``ner.teach``, updates the model.

Views:
    spans: edit spans over the tokens (ner.manual, ner.correct).
    binary: accept or reject one suggested span (ner.teach).
    choice: choose the KB entity of one mention, or NIL (el.manual).
    review: pick or edit one of several annotators' versions (review).

Modules: ``base`` (the `Recipe` record, tasks, labels), ``sources`` (reading the source), ``ner`` (ner.manual,
ner.correct, ner.teach), ``teacher`` (ner.teach's model in the loop), ``el_manual``, ``review``, and ``table``
(the recipes by name: `RECIPES`, `build_recipe`).
"""

from elkit.annotate.recipes.base import SOURCE_INDEX, Recipe
from elkit.annotate.recipes.el_manual import el_manual, entity_option
from elkit.annotate.recipes.ner import ner_correct, ner_manual, ner_teach
from elkit.annotate.recipes.review import review
from elkit.annotate.recipes.sources import check_source, read_source
from elkit.annotate.recipes.table import RECIPES, RecipeOptions, build_recipe
from elkit.annotate.recipes.teacher import Teacher, prefer_uncertain, teach_examples

__all__ = [
    "RECIPES",
    "SOURCE_INDEX",
    "Recipe",
    "RecipeOptions",
    "Teacher",
    "build_recipe",
    "check_source",
    "el_manual",
    "entity_option",
    "ner_correct",
    "ner_manual",
    "ner_teach",
    "prefer_uncertain",
    "read_source",
    "review",
    "teach_examples",
]
