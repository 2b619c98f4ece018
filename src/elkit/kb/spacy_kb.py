"""Import a spaCy `InMemoryLookupKB` folder (written by its `to_disk`) into a `KBBuilder`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from elkit.errors import KBError
from elkit.kb.builder import KBBuilder
from elkit.kb.entity import Entity

__all__ = ["add_spacy_kb"]


def add_spacy_kb(builder: KBBuilder, path: str | Path, vectors: bool = True) -> tuple[int, int]:
    """Add every entity and alias of a spaCy KB folder to `builder`.

    Entity frequencies become popularity, prior probabilities stay priors, and entity vectors are kept
    (when `vectors` is True and they are not all zero).

    Args:
        builder: The builder to fill.
        path: A folder written by spaCy's ``InMemoryLookupKB.to_disk``.
        vectors: Import the entity vectors.

    Returns:
        (entities added, alias rows added).

    Raises:
        KBError: spaCy is not installed or the folder is not a spaCy KB.
    """
    try:
        from spacy.kb import InMemoryLookupKB
        from spacy.vocab import Vocab
    except ImportError:
        raise KBError("importing a spaCy KB needs spaCy: pip install 'elkit[spacy]'") from None
    folder = Path(path)
    if not (folder / "contents").is_file():
        raise KBError(f"{folder}: not a spaCy KB folder (no 'contents' file)")
    spacy_kb = InMemoryLookupKB(Vocab(), entity_vector_length=1)
    try:
        spacy_kb.from_disk(folder)
    except Exception as error:  # spaCy raises ValueError / OSError / its own errors for damaged files
        raise KBError(f"{folder}: cannot be read as a spaCy KB: {error}") from None
    frequency: dict[str, float] = {}
    alias_rows: list[tuple[str, list[str], list[float]]] = []
    for alias in spacy_kb.get_alias_strings():
        candidates = spacy_kb.get_alias_candidates(alias)
        for candidate in candidates:
            frequency[candidate.entity_] = float(candidate.entity_freq)
        alias_rows.append((alias, [c.entity_ for c in candidates], [min(1.0, float(c.prior_prob)) for c in candidates]))
    source = str(folder / "contents")
    entities = 0
    found_vectors: dict[str, np.ndarray] = {}
    for entity_id in spacy_kb.get_entity_strings():
        entity = Entity(entity_id, popularity=max(frequency.get(entity_id, 0.0), 0.0))
        entities += builder.add_entity(entity, path=source)
        found_vectors[entity_id] = np.asarray(spacy_kb.get_vector(entity_id), dtype=np.float32)
    if vectors and any(vector.any() for vector in found_vectors.values()):
        for entity_id, vector in found_vectors.items():
            builder.set_vector(entity_id, vector)
    for alias, entity_ids, priors in alias_rows:
        builder.add_alias(alias, entity_ids, priors)
    return entities, sum(len(entity_ids) for _, entity_ids, _ in alias_rows)
