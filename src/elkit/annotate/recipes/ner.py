"""The entity recipes: ner.manual, ner.correct and ner.teach.

``ner.manual``: highlight entities by hand. ``ner.correct``: fix the model's entities. ``ner.teach``: accept or
reject the model's most uncertain suggestions while it learns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from elkit.annotate.recipes.base import Recipe, check_labels, check_model_labels, make_task, pattern_ruler
from elkit.annotate.recipes.sources import check_source, read_source
from elkit.annotate.recipes.teacher import Teacher, prefer_uncertain
from elkit.errors import ConfigError
from elkit.tokenize import Tokenizer

__all__ = ["ner_correct", "ner_manual", "ner_teach"]


def ner_manual(dataset: str, source: str | Path, labels: Sequence[str], *, patterns: str | Path | None = None,
               tokenizer: Tokenizer | None = None) -> Recipe:
    """Highlight entity spans by hand; spans snap to tokens, and ``patterns`` pre-highlight their matches.

    Raises:
        ConfigError: No labels.
        FormatError: A bad source line or a source span with an unknown label.
    """
    tokenizer = tokenizer or Tokenizer()
    ruler = pattern_ruler(patterns) if patterns is not None else None
    labels = check_labels(list(labels) + (list(ruler.labels) if ruler is not None else []))
    if not labels:
        raise ConfigError("ner.manual needs at least one --label (or patterns that name labels)")
    total = check_source(source, tokenizer, labels)

    def stream() -> Iterator[dict[str, Any]]:
        for index, doc in enumerate(read_source(source, tokenizer, labels)):
            if ruler is not None:
                ruler(doc)
            yield make_task(doc, index)

    return Recipe("ner.manual", "spans", dataset, labels, stream, total=total,
                  instructions="Select the entities: drag over the words, then pick the label.")


def ner_correct(dataset: str, source: str | Path, model: str | Path, labels: Sequence[str] = (), *,
                nlp: Any = None) -> Recipe:
    """The model's entities pre-highlighted for the annotator to fix (only ``labels`` when given)."""
    from elkit.packaging import load

    nlp = nlp if nlp is not None else load(model)
    wanted = check_model_labels(nlp, labels)
    tokenizer = nlp.tokenizer
    total = check_source(source, tokenizer)

    def stream() -> Iterator[dict[str, Any]]:
        for index, doc in enumerate(read_source(source, tokenizer)):
            doc.ents = []
            predicted = nlp(doc)
            spans = [span.to_dict() for span in predicted.ents if span.label in wanted]
            yield make_task(predicted, index, spans)

    return Recipe("ner.correct", "spans", dataset, wanted, stream, total=total,
                  instructions="Correct the model's entities: remove wrong ones, add missed ones.")


def ner_teach(dataset: str, source: str | Path, model: str | Path, labels: Sequence[str] = (), *,
              patterns: str | Path | None = None, nlp: Any = None, min_probability: float = 0.05,
              per_text: int = 8, bias: float = 0.0, rehearse: bool = True, sort: bool = True,
              learning_rate_scale: float = 0.05, replay: int = 100) -> Recipe:
    """Accept or reject one suggested span at a time; the model learns from every batch of answers.

    Suggestions come from the model (every span and label it gives at least ``min_probability``) and from
    ``patterns``; the most uncertain ones are kept by :func:`prefer_uncertain`.

    Args:
        dataset: Where answers go.
        source: Texts.
        model: A trained pipeline with an entity recognizer.
        labels: Labels to ask about (default: all of the model's).
        patterns: Pattern matches are suggested too (label from the pattern).
        nlp: An already loaded pipeline (instead of loading ``model``).
        min_probability: Spans below this are not suggested.
        per_text: At most this many model suggestions per text.
        bias: The uncertainty sorter's bias (see :func:`prefer_uncertain`).
        rehearse: Rehearse the starting model's predictions on texts read from the stream against forgetting.
        sort: Keep only uncertain suggestions (False: every suggestion, in text order).
        learning_rate_scale: The updates' learning rates are the model's own times this (answers come in
            batches of a few spans, so full training rates would wreck the model).
        replay: Each update also learns again from up to this many earlier answers.
    """
    from elkit.packaging import load

    nlp = nlp if nlp is not None else load(model)
    wanted = check_model_labels(nlp, labels)
    teacher = Teacher(nlp, wanted, min_probability=min_probability, per_text=per_text, rehearse=rehearse,
                       learning_rate_scale=learning_rate_scale, replay=replay)
    ruler = pattern_ruler(patterns) if patterns is not None else None
    tokenizer = nlp.tokenizer
    total = check_source(source, tokenizer)

    def scored() -> Iterator[tuple[float, dict[str, Any]]]:
        for index, doc in enumerate(read_source(source, tokenizer)):
            doc.ents = []
            suggestions = teacher.suggestions(doc)
            seen = {(span["start"], span["end"], span["label"]) for _, span in suggestions}
            if ruler is not None:
                matched = ruler(doc.copy())
                for span in matched.ents:
                    key = (span.start_char, span.end_char, span.label)
                    if key not in seen:
                        suggestions.append((0.5, {**span.to_dict(), "pattern": True}))
                        seen.add(key)
            for probability, span in suggestions:
                yield probability, make_task(doc, index, [span], meta={**doc.meta, "score": round(probability, 4)})

    def stream() -> Iterator[dict[str, Any]]:
        if sort:
            return prefer_uncertain(scored(), bias=bias)
        return (task for _, task in scored())

    recipe = Recipe("ner.teach", "binary", dataset, wanted, stream, total=total, update=teacher.update,
                    instructions="Is the highlighted span an entity of this label? Accept (a), reject (x) or "
                                 "skip (space).")
    recipe.stats["teacher"] = teacher
    return recipe
