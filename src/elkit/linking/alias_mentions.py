"""``AliasMentions``: KB names in the text that the recognizer scored but did not keep (``elkit.AliasMentions.v1``).

A zero-shot recognizer misses some names, above all the short or unusual ones a KB is full of. This component
reads the text for runs of words whose normalised form is a KB alias or entity name ("U.S.", "jaguar",
"Paris Hilton"), and adds each one that crosses no entity already found, **with the label and score the
recognizer gave that very span** (``doc.spans[spans_key]``, written by a `ZeroShotNER` with a low
``spans_threshold``). A match that covers several entities the recognizer found ("Paris, Texas" over "Paris" and
"Texas") replaces them, with the label of the first. The KB is a recall aid, never the source of the label: a
match the recognizer gave no label at least ``min_score`` stays out; one that is not the entity ("may", "apple"
in ordinary use) is left to the linker, which gives it NIL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

import pydantic

from elkit.batching import BatchedComponent
from elkit.doc import Doc, Span
from elkit.errors import ConfigError
from elkit.kb.base import KnowledgeBase
from elkit.kb.declared import KBSettings, kb_from_setting
from elkit.kb.normalize import AliasNormalizer
from elkit.registry import factories
from elkit.settings import PathText, Settings, validate_settings

__all__ = ["AliasMentions", "AliasMentionsSettings", "make_alias_mentions"]

_MAX_ALIASES = 2_000_000


class AliasMentionsSettings(Settings):
    """Where the KB and the recognizer's scores come from, and how much evidence a match needs.

    Attributes:
        kb: The KB: a folder, or a table with the folder and its sources; or ``set_kb``.
        spans_key: The span group holding the recognizer's scored spans.
        min_score: The lowest recognizer probability that lets a KB match in (low on purpose: the KB says it is a
            name, and the linker gives NIL to a match that is not the entity).
        max_words: The longest alias matched, in words.
    """

    kb: PathText | KBSettings | None = None
    spans_key: str = "zeroshot"
    min_score: float = pydantic.Field(0.02, ge=0.0, le=1.0)
    max_words: int = pydantic.Field(6, ge=1, le=32)


class AliasMentions(BatchedComponent):
    """Adds KB alias matches the recognizer scored but left out of ``doc.ents``.

    Args:
        name: Component name.
        settings: The settings (`AliasMentionsSettings`); or give them as keyword arguments.
        **values: Settings by name, when ``settings`` is not given.
    """

    def __init__(self, name: str = "alias_mentions", settings: AliasMentionsSettings | None = None,
                 **values: Any) -> None:
        if settings is not None and values:
            raise ConfigError(f"{name}: give settings or keyword settings, not both")
        self.name = name
        self.settings = validate_settings(AliasMentionsSettings, settings if settings is not None else values, name)
        self.normalizer = AliasNormalizer()
        self._kb: KnowledgeBase | None = None
        self._keys: set[str] | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The settings as config values."""
        return self.settings.to_config()

    def set_kb(self, kb: KnowledgeBase) -> None:
        """Match this KB's aliases and names from now on."""
        self._kb = kb
        self._keys = None

    @property
    def keys(self) -> set[str]:
        """The normalised aliases and names of the KB (read on first use).

        Raises:
            ConfigError: No KB, or one with more aliases than can be matched this way.
        """
        if self._keys is None:
            kb = self._kb
            if kb is None and self.settings.kb:
                kb = self._kb = kb_from_setting(self.settings.kb)
            if kb is None:
                raise ConfigError(f"{self.name}: no KB; set one in the config (kb) or with set_kb")
            if kb.alias_count > _MAX_ALIASES:
                raise ConfigError(f"{self.name}: the KB has {kb.alias_count:,} aliases, too many to match in text")
            keys = {self.normalizer(alias) for alias in kb.aliases()}
            keys.update(self.normalizer(kb.get_entity(entity_id).name) for entity_id in kb.entity_ids())
            keys.discard("")
            self._keys = keys
        return self._keys

    def matches(self, doc: Doc) -> list[tuple[int, int]]:
        """Token ranges whose normalised text is a KB alias or name, longest first, then leftmost."""
        keys = self.keys
        found = []
        count = len(doc)
        named = [any(character.isalnum() for character in token.text) for token in doc]
        for start in range(count):
            if not named[start]:
                continue  # a match starts and ends on a word, not on punctuation the normaliser drops
            for end in range(start + 1, min(count, start + self.settings.max_words) + 1):
                if not named[end - 1]:
                    continue
                text = doc.text[doc[start].idx: doc[end - 1].end_char]
                if self.normalizer(text) in keys:
                    found.append((start, end))
        return sorted(found, key=lambda item: (item[0] - item[1], item[0]))

    def __call__(self, doc: Doc) -> Doc:
        """Add the matches that the recognizer labelled above ``min_score`` and that cross no entity."""
        scored: dict[tuple[int, int], Span] = {}
        for span in doc.spans.get(self.settings.spans_key, []):
            best = scored.get((span.start, span.end))
            if best is None or (span.score or 0.0) > (best.score or 0.0):
                scored[(span.start, span.end)] = span
        if not scored:
            return doc
        kept = list(doc.ents)
        changed = False
        for start, end in self.matches(doc):
            inside = [other for other in kept if other.start < end and start < other.end]
            if any(other.start < start or other.end > end or (other.start, other.end) == (start, end)
                   for other in inside):
                continue  # it crosses or equals an entity already there
            span = scored.get((start, end))
            if span is not None and (span.score or 0.0) >= self.settings.min_score:
                label, score = span.label, span.score
            elif len(inside) >= 2:  # a KB name the recognizer found in pieces ("Paris" + "Texas")
                label, score = inside[0].label, min(other.score or 0.0 for other in inside)
            else:
                continue
            kept = [other for other in kept if other not in inside]
            kept.append(Span(doc, start, end, label, score=score))
            changed = True
        if changed:
            doc.ents = sorted(kept, key=lambda span: span.start)
        return doc


    def __getstate__(self) -> dict[str, Any]:
        state = {**self.__dict__, "_keys": None}
        source = getattr(self._kb, "path", None)
        if source is not None:  # a memory-mapped KB travels as its folder and is reopened
            state["_kb"] = str(source)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if isinstance(self._kb, str):
            from elkit.kb import open_kb

            self._kb = open_kb(self._kb)

    def to_disk(self, path: str | Path) -> None:
        """Write ``kb.json``: the path of the KB folder in use (the KB itself stays where it is)."""
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "kb.json").write_bytes(self.to_bytes())

    def from_disk(self, path: str | Path) -> Self:
        """Reopen the KB folder `to_disk` named (unless the settings name one)."""
        record = Path(path) / "kb.json"
        return self.from_bytes(record.read_bytes()) if record.is_file() else self

    def to_bytes(self) -> bytes:
        """The path of the KB folder in use, as JSON."""
        source = getattr(self._kb, "path", None)
        return json.dumps({"kb": str(source) if source is not None else None}).encode("utf-8")

    def from_bytes(self, data: bytes) -> Self:
        """Reopen the KB folder `to_bytes` named (unless the settings name one, or it no longer exists)."""
        source = json.loads(data.decode("utf-8")).get("kb")
        if not self.settings.kb and source and Path(source).is_dir():
            from elkit.kb import open_kb

            self.set_kb(open_kb(source))
        return self


@factories.register("elkit.AliasMentions.v1", settings=AliasMentionsSettings)
def make_alias_mentions(name: str, settings: AliasMentionsSettings) -> AliasMentions:
    """KB alias matches labelled by the recognizer (see :class:`elkit.linking.alias_mentions.AliasMentions`)."""
    return AliasMentions(name, settings)
