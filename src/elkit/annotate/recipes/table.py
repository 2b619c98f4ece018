"""The recipes by name: one table the command line (and anything else that starts a session) looks names up in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from elkit.annotate.recipes.base import Recipe
from elkit.annotate.recipes.el_manual import el_manual
from elkit.annotate.recipes.ner import ner_correct, ner_manual, ner_teach
from elkit.annotate.recipes.review import review
from elkit.annotate.store import Store
from elkit.errors import ConfigError

__all__ = ["RECIPES", "RecipeOptions", "build_recipe"]


@dataclass(frozen=True)
class RecipeOptions:
    """What a session is started with; each recipe takes the options it needs.

    Attributes:
        dataset: Where answers are stored.
        source: Texts (.jsonl or .txt); for review, input datasets, comma separated.
        labels: Labels to annotate.
        patterns: A patterns.jsonl whose matches are pre-marked or suggested.
        model: A trained pipeline (ner.correct, ner.teach; el.manual: a linker or an NER model).
        kb: el.manual: a KB folder or an entities.jsonl.
        store: The answer store (review reads its input datasets from it).
        cache_dir: el.manual: cache for KBs and linkers.
    """

    dataset: str
    source: str
    labels: tuple[str, ...] = ()
    patterns: Path | None = None
    model: Path | None = None
    kb: Path | None = None
    store: Store | None = None
    cache_dir: Path | None = None


def _model(options: RecipeOptions, recipe: str) -> Path:
    if options.model is None:
        raise ConfigError(f"{recipe} needs --model")
    return options.model


def _ner_manual(options: RecipeOptions) -> Recipe:
    return ner_manual(options.dataset, options.source, options.labels, patterns=options.patterns)


def _ner_correct(options: RecipeOptions) -> Recipe:
    return ner_correct(options.dataset, options.source, _model(options, "ner.correct"), options.labels)


def _ner_teach(options: RecipeOptions) -> Recipe:
    return ner_teach(options.dataset, options.source, _model(options, "ner.teach"), options.labels,
                     patterns=options.patterns)


def _el_manual(options: RecipeOptions) -> Recipe:
    return el_manual(options.dataset, options.source, kb=options.kb, model=options.model, patterns=options.patterns,
                     cache_dir=options.cache_dir)


def _review(options: RecipeOptions) -> Recipe:
    if options.store is None:
        raise ConfigError("review needs the answer store its input datasets are in")
    inputs = [name.strip() for name in options.source.split(",") if name.strip()]
    return review(options.dataset, inputs, options.store)


RECIPES: dict[str, Callable[[RecipeOptions], Recipe]] = {
    "ner.manual": _ner_manual,
    "ner.correct": _ner_correct,
    "ner.teach": _ner_teach,
    "el.manual": _el_manual,
    "review": _review,
}
"""Recipe name → a function that configures the recipe from `RecipeOptions`."""


def build_recipe(name: str, options: RecipeOptions) -> Recipe:
    """Configure the recipe called ``name``.

    Raises:
        ConfigError: An unknown recipe, or options the recipe needs are missing or wrong.
    """
    factory = RECIPES.get(name)
    if factory is None:
        raise ConfigError(f"unknown recipe {name!r} (recipes: {', '.join(RECIPES)})")
    return factory(options)
