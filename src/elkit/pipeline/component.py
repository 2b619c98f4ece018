"""The component contract every pipeline component meets."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

from elkit.doc import Doc

__all__ = ["Component", "TrainableComponent"]


@runtime_checkable
class Component(Protocol):
    """A pipeline step: ``__call__(doc) -> doc`` and ``pipe(docs)``, which must give identical results.

    The constructor only stores settings (no I/O, no downloads). A built-in component declares a settings model
    (an :class:`elkit.settings.Settings`) beside its class, registers it with its factory, keeps it as
    ``settings`` and derives ``config`` from it, so that a pipeline can write a config that rebuilds the
    component; learned state goes through ``to_disk`` / ``from_disk`` and ``to_bytes`` / ``from_bytes``.
    Deriving from :class:`elkit.batching.BatchedComponent` gives ``pipe`` from ``__call__`` (or from
    ``predict`` and ``set_annotations`` with :class:`elkit.batching.PredictThenAnnotate`). A component that runs a
    torch model also has ``to_device(device)``: the pipeline calls it with its resolved ``[nlp] device`` when the
    component is added and when the pipeline moves (see :mod:`elkit.devices`).
    """

    name: str

    @property
    def config(self) -> dict[str, Any]:
        """The settings as TOML-ready values (its settings model's), with learned state such as labels."""
        ...

    def __call__(self, doc: Doc) -> Doc:
        """Annotate one document and return it."""
        ...

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Annotate a stream of documents in batches."""
        ...

    def to_disk(self, path: Path) -> None:
        """Save the component's state into the directory ``path``."""
        ...

    def from_disk(self, path: Path) -> Self:
        """Load state saved by ``to_disk``; returns the component."""
        ...

    def to_bytes(self) -> bytes:
        """Serialise the component's state."""
        ...

    def from_bytes(self, data: bytes) -> Self:
        """Load state from ``to_bytes`` output; returns the component."""
        ...


@runtime_checkable
class TrainableComponent(Component, Protocol):
    """A component with a model: ``predict`` is pure, ``set_annotations`` writes, ``__call__`` does both."""

    def predict(self, docs: list[Doc]) -> Any:
        """Compute predictions without touching the documents."""
        ...

    def set_annotations(self, docs: list[Doc], predictions: Any) -> None:
        """Write predictions onto the documents."""
        ...

    def initialize(self, get_examples: Any, **options: Any) -> None:
        """Learn labels and shapes from examples and initialise weights."""
        ...

    def update(self, examples: Any, *, drop: float = 0.0, sgd: Any = None, losses: dict[str, float] | None = None
               ) -> dict[str, float]:
        """Take one training step on a batch of examples."""
        ...

    def rehearse(self, examples: Any, *, drop: float = 0.0, sgd: Any = None,
                 losses: dict[str, float] | None = None) -> dict[str, float]:
        """Take a step towards the model's own earlier predictions, against forgetting."""
        ...
