"""``el.manual``: choose the KB entity (or NIL) of each mention, from the linker's candidates or a KB search."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from elkit.annotate.recipes.base import Recipe, make_task, pattern_ruler
from elkit.annotate.recipes.sources import check_source, read_source
from elkit.doc import NIL
from elkit.errors import ConfigError

__all__ = ["el_manual", "entity_option"]


def entity_option(kb: Any, entity_id: str, score: float | None = None) -> dict[str, Any]:
    """How the front end shows one KB entity."""
    entity = kb.get_entity(entity_id)
    option: dict[str, Any] = {"id": entity.entity_id, "name": entity.name or entity.entity_id,
                              "description": entity.description, "type": ", ".join(entity.types)}
    if score is not None:
        option["score"] = round(float(score), 4)
    return option


def _linking_pipeline(kb: str | Path | None, model: str | Path | None, cache_dir: str | Path | None) -> Any:
    from elkit.linking import is_linker
    from elkit.linking.builder import create_simple
    from elkit.packaging import load

    if model is not None:
        nlp = load(model)
        if any(is_linker(component) for _, component in nlp.components):
            if kb is not None:
                for _, component in nlp.components:
                    if is_linker(component):
                        component.set_kb(kb)
            return nlp
        if kb is None:
            raise ConfigError(f"{model}: the model has no entity linker, so el.manual needs --kb")
    if kb is None:
        raise ConfigError("el.manual needs --kb (a KB folder or an entities.jsonl) or a --model with a linker")
    kb_path = Path(kb)
    if kb_path.is_file():
        return create_simple(kb_path, ner_model=model, cache_dir=cache_dir, show_progress=True)
    return create_simple(kb=kb_path, ner_model=model, cache_dir=cache_dir, show_progress=True)


def el_manual(dataset: str, source: str | Path, *, kb: str | Path | None = None, model: str | Path | None = None,
              patterns: str | Path | None = None, top_k: int = 10, cache_dir: str | Path | None = None,
              nlp: Any = None) -> Recipe:
    """Choose the KB entity (or NIL) of each mention, from scored candidates or by searching the KB.

    Mentions come from the source's spans when it has them, else from ``patterns``, else from the model (an NER
    model, or the zero-shot recognizer with the KB's types as labels when there is none). Candidates and scores come
    from the entity linker.
    """
    from elkit.linking import is_linker

    nlp = nlp if nlp is not None else _linking_pipeline(kb, model, cache_dir)
    linker = next((component for _, component in nlp.components if is_linker(component)), None)
    if linker is None:
        raise ConfigError("el.manual needs a pipeline with an entity linker")
    knowledge = linker.kb
    ruler = pattern_ruler(patterns) if patterns is not None else None
    tokenizer = nlp.tokenizer
    total = check_source(source, tokenizer)
    stats = {"mentions": 0}

    def stream() -> Iterator[dict[str, Any]]:
        for index, doc in enumerate(read_source(source, tokenizer)):
            if doc.ents:
                found = linker(doc)
            elif ruler is not None:
                found = linker(ruler(doc))
            else:
                found = nlp(doc)
            for span in found.ents:
                options = [entity_option(knowledge, candidate.entity_id, candidate.score)
                           for candidate in span.candidates[:top_k] if candidate.entity_id in knowledge]
                options.append({"id": NIL, "name": "None of these (NIL)", "description": "", "type": ""})
                mention = {key: value for key, value in span.to_dict().items()
                           if key in ("start", "end", "token_start", "token_end", "label")}
                suggestion = span.kb_id if span.kb_id and span.kb_id != NIL else None
                yield make_task(found, index, [mention], options=options,
                            meta={**found.meta, "suggested": suggestion} if suggestion else dict(found.meta))

    return Recipe("el.manual", "choice", dataset, (), stream, total=total, kb=knowledge, stats=stats,
                  instructions="Which entity does the highlighted mention refer to? Pick one, search, or NIL.")
