"""The one ``pipe()`` of every doc-to-doc component, and the batch-size check of every stream.

A component derives from :class:`BatchedComponent` and gets ``pipe(docs, batch_size)``: the documents are cut
into batches of ``batch_size`` (checked once, when ``pipe`` is called), each batch goes through
:meth:`BatchedComponent.annotate_batch`, and the documents come out in the order they went in. A rule-based
component implements ``__call__`` only (a batch is then each document in turn); a model-based one derives from
:class:`PredictThenAnnotate` and implements ``predict`` and ``set_annotations``, so a batch is one forward pass.

While a :class:`PredictThenAnnotate` batch runs, Python's cyclic garbage collector is paused (:func:`gc_paused`):
the batch allocates many small objects that reference counting frees anyway, and the collector's passes over
them made the cost per mention grow with the length of a document.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

from elkit.doc import Doc
from elkit.errors import ConfigError

__all__ = ["BatchedComponent", "PredictThenAnnotate", "batches", "check_batch_size", "gc_paused"]

Item = TypeVar("Item")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (reference counting still frees memory as usual)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_batch_size(batch_size: object) -> int:
    """Return ``batch_size`` when it is a positive integer.

    Raises:
        ConfigError: For anything else (zero, a negative number, a float, a bool).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def batches(items: Iterable[Item], batch_size: int) -> Iterator[list[Item]]:
    """Cut a stream into lists of ``batch_size`` items (the last may be shorter), lazily and in order.

    Raises:
        ConfigError: At once (not on first use) when ``batch_size`` is not a positive integer.
    """
    size = check_batch_size(batch_size)
    iterator = iter(items)
    return iter(lambda: list(islice(iterator, size)), [])


class BatchedComponent:
    """Base of every doc-to-doc pipeline component: ``pipe`` runs :meth:`annotate_batch` over batches.

    A subclass implements ``__call__(doc) -> doc`` (annotating the document in place and returning it) or
    overrides :meth:`annotate_batch`; ``pipe`` and ``__call__`` then give identical results.
    """

    def __call__(self, doc: Doc) -> Doc:
        """Annotate one document and return it (implemented by the component)."""
        raise NotImplementedError

    def annotate_batch(self, docs: list[Doc]) -> list[Doc]:
        """Annotate a batch of documents and return them in order; by default each through ``__call__``."""
        return [self(doc) for doc in docs]

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Annotate documents in batches of ``batch_size``, lazily, yielding them in order.

        Raises:
            ConfigError: At once when ``batch_size`` is not a positive integer.
        """
        return self._pipe(batches(docs, batch_size))

    def _pipe(self, doc_batches: Iterator[list[Doc]]) -> Iterator[Doc]:
        for batch in doc_batches:
            yield from self.annotate_batch(batch)


class PredictThenAnnotate(BatchedComponent):
    """A component that works as ``predict`` (pure) then ``set_annotations``; a batch is one ``predict`` call."""

    def predict(self, docs: Sequence[Doc]) -> Any:
        """Scores for a batch of documents (implemented by the component)."""
        raise NotImplementedError

    def set_annotations(self, docs: Sequence[Doc], predictions: Any) -> None:
        """Write predictions into the documents (implemented by the component)."""
        raise NotImplementedError

    def __call__(self, doc: Doc) -> Doc:
        """Annotate one document."""
        with gc_paused():
            self.set_annotations([doc], self.predict([doc]))
        return doc

    def annotate_batch(self, docs: list[Doc]) -> list[Doc]:
        """Predict for the whole batch at once, then write the predictions."""
        with gc_paused():
            self.set_annotations(docs, self.predict(docs))
        return docs
