"""The shared ``__call__`` / ``pipe`` of components that work as ``predict`` then ``set_annotations``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from elkit.doc import Doc

__all__ = ["PredictThenAnnotate"]


class PredictThenAnnotate:
    """Mixin: annotate one document, or a stream in batches, through ``predict`` and ``set_annotations``."""

    def predict(self, docs: Sequence[Doc]) -> Any:
        """Scores for a batch of documents (implemented by the component)."""
        raise NotImplementedError

    def set_annotations(self, docs: Sequence[Doc], predictions: Any) -> None:
        """Write predictions into the documents (implemented by the component)."""
        raise NotImplementedError

    def __call__(self, doc: Doc) -> Doc:
        """Annotate one document."""
        self.set_annotations([doc], self.predict([doc]))
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Annotate documents in batches of ``batch_size``, yielding them in order."""
        batch: list[Doc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= batch_size:
                self.set_annotations(batch, self.predict(batch))
                yield from batch
                batch = []
        if batch:
            self.set_annotations(batch, self.predict(batch))
            yield from batch
