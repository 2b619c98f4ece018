"""One call from an entities file to a ready linking pipeline (GLiNKER's ``create_simple``, elkit style).

``create_simple(entities="entities.jsonl", labels=[...])`` builds (once, cached) a KB from the file, finds
mentions with the zero-shot recognizer (labels given, or the KB's entity types read as words) with the KB's
aliases as a recall aid, and links them with the general linker shipped with elkit: no annotated data and no
training on the KB. The older path stays as an option: phrase patterns from the KB's names (``mentions=
"patterns"``) and an `EntityLinker` trained on the KB itself (``linker="self-trained"``: each entity's names
shown in the context of its own description), cached next to the KB.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from elkit.doc import Doc
from elkit.errors import ConfigError
from elkit.kb.base import KnowledgeBase
from elkit.linking.component import EntityLinker
from elkit.pipeline import Pipeline
from elkit.tokenize import Tokenizer

__all__ = ["create_simple", "default_cache_dir", "kb_labels", "kb_patterns", "self_training_docs"]

_BUILDER_VERSION = "7"  # 7: normalised and fuzzy candidates name their own KB alias (key_aliases)
_MAX_PATTERN_ALIASES = 2_000_000


def default_cache_dir() -> Path:
    """``$ELKIT_HOME/cache``, or ``~/.cache/elkit`` when ``ELKIT_HOME`` is not set."""
    home = os.environ.get("ELKIT_HOME")
    return Path(home) / "cache" if home else Path.home() / ".cache" / "elkit"


def _digest(*parts: bytes) -> str:
    digest = hashlib.blake2b(digest_size=10)
    for part in parts:
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def _kb_from_entities(entities: Path, cache: Path) -> tuple[KnowledgeBase, str]:
    from elkit.kb import KBBuilder, open_kb
    from elkit.kb.sources import read_entities_jsonl

    if not entities.is_file():
        raise ConfigError(f"{entities}: no such entities file")
    key = _digest(entities.read_bytes(), _BUILDER_VERSION.encode())
    folder = cache / f"kb-{key}"
    if not (folder / "manifest.json").is_file():
        building = cache / f"kb-{key}.building"
        if building.exists():
            shutil.rmtree(building)
        builder = KBBuilder()
        builder.add_records(read_entities_jsonl(entities))
        builder.build(building, overwrite=True)
        building.rename(folder)
    return open_kb(folder), key


def kb_patterns(kb: KnowledgeBase, default_label: str = "ENTITY") -> list[dict[str, Any]]:
    """Phrase patterns for every KB alias and entity name, labelled with the entity's first type.

    An alias shared by entities of different types gets one pattern per type; the linker decides later.

    Raises:
        ConfigError: The KB has more aliases than phrase patterns can sensibly hold (use an NER model).
    """
    if kb.alias_count > _MAX_PATTERN_ALIASES:
        raise ConfigError(f"the KB has {kb.alias_count:,} aliases, too many for dictionary mention detection; "
                          "give a trained NER model instead")
    found: set[tuple[str, str]] = set()
    for alias in kb.aliases():
        for candidate in kb.get_alias_candidates(alias):
            types = kb.get_entity(candidate.entity_id).types
            found.add((types[0] if types else default_label, alias))
    for entity_id in kb.entity_ids():
        entity = kb.get_entity(entity_id)
        if entity.name:
            found.add((entity.types[0] if entity.types else default_label, entity.name))
    return [{"label": label, "pattern": text} for label, text in sorted(found) if text.strip()]


def kb_labels(kb: KnowledgeBase) -> list[str]:
    """The KB's entity types read as words ("PER" → "person"), one label each: the default zero-shot labels.

    Raises:
        ConfigError: The KB has no entity types (give labels instead).
    """
    from elkit.linking.general_features import type_text

    found: dict[str, None] = {}
    for entity_id in kb.entity_ids():
        for value in kb.get_entity(entity_id).types:
            text = type_text(value)
            if text:
                found.setdefault(text, None)
    if not found:
        raise ConfigError("the KB has no entity types to use as labels: give labels (names of entity types)")
    return sorted(found)


def self_training_docs(kb: KnowledgeBase, tokenizer: Tokenizer | None = None, limit: int = 20_000,
                       seed: int = 0) -> list[Doc]:
    """Documents made from the KB: each alias of an entity alone, and again followed by half its description.

    Args:
        kb: The knowledge base.
        tokenizer: Splits the texts (the default tokenizer when None).
        limit: At most this many (alias, entity) pairs, two documents each (pairs are sampled when the KB has
            more).
        seed: Sampling seed.
    """
    tokenizer = tokenizer or Tokenizer()
    pairs: list[tuple[str, str]] = []
    for alias in kb.aliases():
        pairs.extend((alias, candidate.entity_id) for candidate in kb.get_alias_candidates(alias))
    for entity_id in kb.entity_ids():
        name = kb.get_entity(entity_id).name
        if name:
            pairs.append((name, entity_id))
    pairs = sorted(set(pairs))
    if len(pairs) > limit:
        pairs = random.Random(seed).sample(pairs, limit)
    docs = []
    rng = random.Random(seed)
    for alias, entity_id in pairs:
        entity = kb.get_entity(entity_id)
        # Each alias comes once without context, so the prior and the name count on their own, and once with
        # a random half of the description's words: the whole description would match the entity's own text
        # far better than any real sentence does, and the context would be overrated.
        words = (entity.description or " ".join(entity.types)).split()
        kept = sorted(rng.sample(range(len(words)), (len(words) + 1) // 2))
        for context in ("", " ".join(words[index] for index in kept)):
            doc = tokenizer(f"{alias} : {context}" if context else alias)
            mention = doc.char_span(0, len(alias), label=entity.types[0] if entity.types else "ENTITY",
                                    kb_id=entity_id, alignment_mode="expand")
            if mention is not None:
                doc.ents = [mention]
                docs.append(doc)
    return docs


def create_simple(
    entities: str | Path | None = None,
    *,
    kb: str | Path | KnowledgeBase | None = None,
    labels: Sequence[str] | Mapping[str, str] | None = None,
    mentions: Literal["zero-shot", "patterns"] = "zero-shot",
    linker: Literal["general", "self-trained"] = "general",
    ner_model: str | Path | None = None,
    linker_model: str | Path | None = None,
    threshold: float | None = None,
    ner_threshold: float = 0.5,
    labels_discard: Sequence[str] = (),
    cache_dir: str | Path | None = None,
    epochs: int = 30,
    show_progress: bool = False,
    device: str | None = None,
    precompute_embeddings: bool = False,
) -> Pipeline:
    """A ready linking pipeline from an entities file (or a KB), with no annotated data needed.

    By default mentions come from the zero-shot recognizer (`ZeroShotNER`) with `labels`, helped by the KB's
    aliases where the recognizer scored a name but did not keep it (`AliasMentions`: the label still comes from
    the recognizer), and they are linked by the general linker shipped with elkit (`GeneralLinker`), which
    needs no training on the KB and gives NIL to names the KB lacks.

    Args:
        entities: A GLiNKER-style ``entities.jsonl`` (entity_id, label, description, entity_type, aliases,
            popularity); the KB built from it is cached.
        kb: A KB folder or object instead of `entities`.
        labels: The recognizer's labels: names, or names with descriptions; None: the KB's entity types, read
            as words ("PER" is "person").
        mentions: "zero-shot" (above) or "patterns": every KB alias and name as a phrase pattern, labelled with
            the entity's first type.
        linker: "general" (the shipped scorer) or "self-trained": an `EntityLinker` trained on documents made
            from the KB itself (cached next to the KB).
        ner_model: A trained pipeline whose entity spans are linked, instead of `mentions`.
        linker_model: A trained linker folder (a component folder or a pipeline with an ``entity_linker``) used
            instead of `linker`.
        threshold: Below this probability a mention gets NIL.
        ner_threshold: The zero-shot recognizer's threshold.
        labels_discard: Labels never linked.
        cache_dir: Where KBs and self-trained linkers are cached (`default_cache_dir` when None).
        epochs: Passes of the self-training.
        show_progress: Show progress bars on stderr.
        device: Where the torch components run and the self-trained linker learns ("cpu", "cuda", "cuda:N";
            None: the CPU).
        precompute_embeddings: Encode every entity's text and name once and keep the vectors in the cache
            (``entity-vectors-*``), so linking reads them instead of encoding each candidate it meets (general
            linker only). Costs one encoder pass over every entity's text and name, paid once per KB (the
            37k entities of the AIDA KB: benchmarks/RESULTS.md); worth it when many documents are linked
            against the same KB.

    Raises:
        ConfigError: Neither `entities` nor `kb` is given, a path does not exist, or the KB has no types and no
            labels are given.
    """
    from elkit.kb import open_kb
    from elkit.packaging import load

    if labels is not None and not labels:
        raise ConfigError("create_simple: labels is empty; give label names, or None for the KB's entity types")
    if precompute_embeddings and (linker != "general" or linker_model is not None):
        raise ConfigError("create_simple: precompute_embeddings is for the general linker (linker='general', "
                          "no linker_model)")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    if entities is not None:
        knowledge, key = _kb_from_entities(Path(entities), cache)
    elif kb is not None:
        knowledge = open_kb(kb) if isinstance(kb, str | Path) else kb
        manifest = Path(getattr(knowledge, "path", "")) / "manifest.json"
        key = _digest(manifest.read_bytes() if manifest.is_file() else repr(knowledge).encode())
    else:
        raise ConfigError("create_simple needs an entities file or a KB")
    kb_path = getattr(knowledge, "path", None)
    if ner_model is not None:
        nlp = load(ner_model, device=device)
    elif mentions == "patterns":
        nlp = Pipeline(device=device or "cpu")
        nlp.add_pipe("elkit.Sentencizer.v1", name="sentencizer")
        ruler = nlp.add_pipe("elkit.EntityRuler.v1", name="entity_ruler")
        ruler.add_patterns(kb_patterns(knowledge))  # type: ignore[attr-defined]
    else:
        nlp = Pipeline(device=device or "cpu")
        nlp.add_pipe("elkit.Sentencizer.v1", name="sentencizer")
        nlp.add_pipe("elkit.ZeroShotNER.v1", name="ner", config={
            "labels": labels if labels is not None else kb_labels(knowledge), "threshold": ner_threshold,
            "spans_key": "zeroshot", "spans_threshold": 0.02})
        aliases = nlp.add_pipe("elkit.AliasMentions.v1", name="alias_mentions",
                               config={"kb": str(kb_path) if kb_path is not None else None})
        aliases.set_kb(knowledge)  # type: ignore[attr-defined]
    if linker == "general" and linker_model is None:
        general = nlp.add_pipe("elkit.GeneralLinker.v1", name="entity_linker", config={
            "kb": str(kb_path) if kb_path is not None else None, "threshold": threshold,
            "labels_discard": list(labels_discard), "relabel": ner_model is None and mentions == "patterns"})
        general.set_kb(knowledge)  # type: ignore[attr-defined]
        if precompute_embeddings:
            general.precompute_entity_vectors(  # type: ignore[attr-defined]
                cache / f"entity-vectors-{key}", show_progress=show_progress)
        return nlp
    linker_component = nlp.add_pipe(
        "elkit.EntityLinker.v1", name="entity_linker",
        config={"threshold": threshold, "labels_discard": list(labels_discard),
                "relabel": ner_model is None and mentions == "patterns",
                # the self-training documents are made from the KB itself: neighbours among them say nothing
                # about how real texts use a name
                "memory": False})
    assert isinstance(linker_component, EntityLinker)
    if linker_model is not None:
        folder = Path(linker_model)
        linker_component.from_disk(folder / "entity_linker" if (folder / "entity_linker").is_dir() else folder)
        linker_component.set_kb(knowledge)
        return nlp
    trained = cache / f"linker-{key}-{_digest(json.dumps([epochs, _BUILDER_VERSION]).encode())}"
    if (trained / "model.json").is_file():
        linker_component.from_disk(trained)
    else:
        docs = self_training_docs(knowledge)
        linker_component.initialize(lambda: docs, kb=knowledge, show_progress=show_progress)
        rng = random.Random(0)
        for _ in range(epochs):
            rng.shuffle(docs)
            for start in range(0, len(docs), 32):
                linker_component.update(docs[start: start + 32])
        linker_component.finish_training()
        staging = trained.with_suffix(".building")
        if staging.exists():
            shutil.rmtree(staging)
        linker_component.to_disk(staging)
        shutil.rmtree(staging / "kb", ignore_errors=True)
        staging.rename(trained)
    linker_component.set_kb(knowledge)
    linker_component.threshold = threshold
    return nlp
