"""elkit's recognizers and linkers as spaCy pipeline components (the ``spacy`` extra).

Registered with spaCy through the ``spacy_factories`` entry point, so a spaCy 3.8 pipeline can use them by name
and ``spacy.load`` finds them again::

    nlp = spacy.blank("en")
    nlp.add_pipe("elkit_ner", config={"model": "models/ner/model-best"})        # a trained elkit NER
    nlp.add_pipe("elkit_linker", config={"kb": "my-kb"})                        # no training: the general linker
    doc = nlp("Angela Merkel met Emmanuel Macron in Berlin.")
    [(ent.text, ent.label_, ent.kb_id_, ent._.elkit_link_score) for ent in doc.ents]

* ``elkit_ner`` runs an elkit recognizer (SpanNER, ZeroShotNER, EntityRuler or a pipeline of them): ``model`` is a
  saved elkit pipeline (or package) whose entity components run in order, or, with ``labels`` and no ``model``,
  the zero-shot recognizer with those labels.
* ``elkit_linker`` links spaCy's ``doc.ents`` and writes ``ent.kb_id_`` (NIL when nothing fits), with the scored
  candidates in ``ent._.elkit_candidates`` and the probability in ``ent._.elkit_link_score``: ``model`` is a
  saved elkit pipeline holding a trained linker, or, with ``kb`` alone, the general linker that needs no training.

Both save inside spaCy's own ``nlp.to_disk`` (the elkit pipeline is written into the component's folder) and load
back with ``spacy.load`` without the original paths. Tokens are spaCy's: the elkit document is made from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from elkit.batching import batches
from elkit.corpora.docbin import doc_from_spacy
from elkit.errors import ConfigError, ModelError
from elkit.extras import require

__all__ = ["ElkitLinker", "ElkitNER", "make_linker", "make_ner"]

spacy = require("spacy", "spacy", "elkit's spaCy components")
from spacy.language import Language  # noqa: E402 - after the check that spaCy is installed
from spacy.tokens import Doc as SpacyDoc  # noqa: E402
from spacy.tokens import Span as SpacySpan  # noqa: E402

for _name in ("elkit_candidates", "elkit_link_score", "elkit_score"):
    if not SpacySpan.has_extension(_name):
        SpacySpan.set_extension(_name, default=None)


class _Wrapped:
    """An elkit pipeline run on spaCy documents, saved inside spaCy's component folder."""

    def __init__(self, name: str, model: str | None) -> None:
        self.name = name
        self.elkit: Any = None
        self._missing_model: str | None = None
        if model is not None:
            if Path(model).exists():
                from elkit.packaging import load

                self.elkit = load(model)
            else:  # spacy.load: the state comes from the component's own folder next (from_disk)
                self._missing_model = model

    def _pipeline(self) -> Any:
        if self.elkit is None:
            raise ModelError(f"{self.name}: no elkit model: {self._missing_model!r} does not exist, and nothing "
                             "was loaded from a saved spaCy pipeline")
        return self.elkit

    def _run(self, docs: list[SpacyDoc], batch_size: int) -> list[SpacyDoc]:
        """Annotate spaCy documents in place: each elkit component runs over the whole batch."""
        ours = [doc_from_spacy(doc) for doc in docs]
        for _, component in self._pipeline().components:
            ours = list(component.pipe(ours, batch_size=batch_size))
        for doc, annotated in zip(docs, ours, strict=True):
            spans = []
            for span in annotated.ents:
                made = doc.char_span(span.start_char, span.end_char, label=span.label, kb_id=span.kb_id or "")
                if made is None:  # cannot happen: elkit's tokens are spaCy's
                    raise ModelError(f"{self.name}: span {span.text!r} does not align with spaCy's tokens")
                spans.append((made, span))
            doc.ents = [made for made, _ in spans]
            for made, span in spans:
                made._.elkit_score = span.score
                made._.elkit_link_score = span.link_score
                made._.elkit_candidates = [candidate.to_dict() for candidate in span.candidates] or None
        return docs

    def __call__(self, doc: SpacyDoc) -> SpacyDoc:
        """Annotate one spaCy document in place."""
        return self._run([doc], 1)[0]

    def pipe(self, docs: Iterable[SpacyDoc], batch_size: int = 64) -> Iterator[SpacyDoc]:
        """Annotate a stream of spaCy documents, `batch_size` at a time."""
        for batch in batches(docs, batch_size):
            yield from self._run(batch, batch_size)

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Save the elkit pipeline into the component's folder."""
        del exclude
        self._pipeline().to_disk(Path(path) / "elkit")

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> _Wrapped:
        """Load the elkit pipeline saved by `to_disk`."""
        del exclude
        from elkit.pipeline import Pipeline

        self.elkit = Pipeline.from_disk(Path(path) / "elkit")
        self._missing_model = None
        return self


class ElkitNER(_Wrapped):
    """An elkit recognizer in a spaCy pipeline (see the module docstring)."""

    def __init__(self, name: str, model: str | None, labels: list[str] | None, threshold: float) -> None:
        super().__init__(name, model)
        if model is None:
            if not labels:
                raise ConfigError(f"{name}: give a trained elkit model, or labels for the zero-shot recognizer")
            from elkit.pipeline import Pipeline

            self.elkit = Pipeline()
            self.elkit.add_pipe("elkit.ZeroShotNER.v1", name="ner", config={"labels": labels, "threshold": threshold})


class ElkitLinker(_Wrapped):
    """An elkit linker in a spaCy pipeline (see the module docstring)."""

    def __init__(self, name: str, model: str | None, kb: str | None, threshold: float | None) -> None:
        super().__init__(name, model)
        from elkit.linking import is_linker

        if model is None:
            if kb is None:
                raise ConfigError(f"{name}: give a trained elkit pipeline with a linker (model), or a KB folder (kb)")
            from elkit.pipeline import Pipeline

            self.elkit = Pipeline()
            self.elkit.add_pipe("elkit.GeneralLinker.v1", name="entity_linker",
                                config={"kb": kb, "threshold": threshold})
        elif self.elkit is not None:
            linkers = [component for _, component in self.elkit.components if is_linker(component)]
            if not linkers:
                raise ConfigError(f"{name}: {model} holds no entity linker")
            self.elkit = _only(self.elkit, linkers)
            for linker in linkers:
                if kb is not None:
                    linker.set_kb(kb)
                if threshold is not None:
                    linker.threshold = threshold


def _only(pipeline: Any, keep: list[Any]) -> Any:
    """`pipeline` without the components not in `keep` (spaCy's own recognizer gives the mentions)."""
    for name, component in list(pipeline.components):
        if component not in keep:
            pipeline.remove_pipe(name)
    return pipeline


@Language.factory("elkit_ner", default_config={"model": None, "labels": None, "threshold": 0.5})
def make_ner(nlp: Language, name: str, model: str | None, labels: list[str] | None, threshold: float) -> ElkitNER:
    """The spaCy factory of an elkit recognizer (a saved elkit pipeline, or zero-shot with `labels`)."""
    del nlp
    return ElkitNER(name, model, labels, threshold)


@Language.factory("elkit_linker", default_config={"model": None, "kb": None, "threshold": None})
def make_linker(nlp: Language, name: str, model: str | None, kb: str | None, threshold: float | None
                ) -> ElkitLinker:
    """The spaCy factory of an elkit linker (a trained one from `model`, or the general linker over `kb`)."""
    del nlp
    return ElkitLinker(name, model, kb, threshold)
