"""Pipeline: a tokenizer and named components applied in order, built from a config, saved with a manifest."""

from __future__ import annotations

import json
import multiprocessing
import pickle
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from elkit.batching import batches, check_batch_size
from elkit.config import ComponentConfig, NlpConfig, PipelineConfig, load_config, save_config
from elkit.devices import resolve_device
from elkit.doc import Doc
from elkit.errors import ConfigError, DataError, ModelError
from elkit.io import MANIFEST_NAME, pack_files, read_manifest, unpack_files, write_manifest
from elkit.pipeline.component import Component
from elkit.registry import factories, tokenizers
from elkit.threads import set_threads, worker_threads
from elkit.tokenize import Tokenizer

__all__ = ["Pipeline"]

_CONFIG_NAME = "config.toml"
_TOKENIZER_DIR = "tokenizer"
_CONFIG_BYTES = "config.json"
_COMPONENT_PREFIX = "component/"


class Pipeline:
    """Text in, annotated ``Doc`` out: the tokenizer, then each component in order.

    Args:
        tokenizer: The tokenizer; a default ``Tokenizer()`` when None.
        lang: Language code, recorded in the config.
        max_length: Longest text accepted, in characters (longer texts are an error: split them first).
        tokenizer_factory: The registered name that rebuilds the tokenizer from its settings.
        device: Where the torch components run: "cpu", "cuda" or "cuda:N" (see :meth:`to_device`).

    Raises:
        ConfigError: A device this machine does not have.
    """

    def __init__(
        self,
        tokenizer: Tokenizer | None = None,
        *,
        lang: str = "en",
        max_length: int = 1_000_000,
        tokenizer_factory: str = "elkit.Tokenizer.v1",
        device: str = "cpu",
    ) -> None:
        self.tokenizer = tokenizer or Tokenizer(lang=lang)
        self.lang = lang
        self.max_length = max_length
        self.tokenizer_factory = tokenizer_factory
        if device != "cpu":
            resolve_device(device)  # checked at once (torch is imported only for a device other than the CPU)
        self.device = device
        self._components: list[tuple[str, Component]] = []
        self._factories: dict[str, str] = {}

    # --- building -------------------------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: PipelineConfig | dict[str, Any] | str | Path, *,
                    device: str | None = None) -> Pipeline:
        """Build a pipeline from a config (object, plain dict or TOML path); components are not trained.

        Args:
            config: The config.
            device: Where the torch components run, instead of the config's ``[nlp] device``.

        Raises:
            ConfigError: An invalid config, an unknown factory, or a device this machine does not have.
        """
        if isinstance(config, str | Path):
            config = load_config(config)
        elif isinstance(config, dict):
            config = PipelineConfig.from_dict(config)
        tokenizer_section = config.nlp.tokenizer
        settings = dict(tokenizer_section.settings)
        if tokenizer_section.factory == "elkit.Tokenizer.v1":
            settings.setdefault("lang", config.nlp.lang)  # [nlp] lang picks the language's rules
        tokenizer = tokenizers.make(tokenizer_section.factory, settings)
        nlp = cls(tokenizer, lang=config.nlp.lang, max_length=config.nlp.max_length,
                  tokenizer_factory=tokenizer_section.factory, device=device or config.nlp.device)
        for name in config.nlp.pipeline:
            section = config.components[name]
            nlp.add_pipe(section.factory, name=name, config=section.settings)
        return nlp

    @property
    def pipe_names(self) -> list[str]:
        """Component names in order."""
        return [name for name, _ in self._components]

    @property
    def components(self) -> list[tuple[str, Component]]:
        """(name, component) pairs in order."""
        return list(self._components)

    def add_pipe(
        self,
        factory: str,
        name: str | None = None,
        *,
        config: dict[str, Any] | None = None,
        before: str | None = None,
        after: str | None = None,
        first: bool = False,
        last: bool = False,
    ) -> Component:
        """Build a component from a registered factory and insert it.

        Args:
            factory: Registered name, such as "elkit.Sentencizer.v1".
            name: The component's name in this pipeline; by default the factory's short name in lower case
                ("sentencizer").
            config: Settings for the factory.
            before: Insert before this component.
            after: Insert after this component.
            first: Insert first.
            last: Insert last (the default).

        Returns:
            The new component.

        Raises:
            ConfigError: Unknown factory or setting, a taken name, or conflicting position arguments.
        """
        name = name or factory.split(".")[-2].lower()
        if name in self._factories:
            raise ConfigError(f"a component named {name!r} is already in the pipeline: {self.pipe_names}")
        component = factories.make(factory, config or {}, name=name, nlp=self)
        self._insert(name, component, before=before, after=after, first=first, last=last)
        self._factories[name] = factory
        if hasattr(component, "to_device"):
            component.to_device(resolve_device(self.device))
        return component

    def to_device(self, device: Any = None, *, gpu_id: int | None = None) -> Pipeline:
        """Run the torch components on ``device`` from now on (their models move; later ones are built there).

        Args:
            device: "cpu", "cuda", "cuda:N" or a ``torch.device`` (None: the CPU).
            gpu_id: ``--gpu-id``: when given it replaces ``device`` (-1: the CPU, N: "cuda:N").

        Returns:
            The pipeline.

        Raises:
            ConfigError: A badly spelled device, or one this machine does not have.
        """
        resolved = resolve_device(device, gpu_id)
        self.device = str(resolved)
        for _, component in self._components:
            if hasattr(component, "to_device"):
                component.to_device(resolved)
        return self

    def _insert(self, name: str, component: Component, *, before: str | None, after: str | None, first: bool,
                last: bool) -> None:
        if sum(bool(option) for option in (before, after, first, last)) > 1:
            raise ConfigError("give at most one of before, after, first and last")
        if not isinstance(component, Component):
            raise ConfigError(f"{name!r} does not implement the component contract (see elkit.pipeline.Component)")
        position = len(self._components)
        if first:
            position = 0
        elif before is not None or after is not None:
            anchor = before if before is not None else after
            if anchor not in self.pipe_names:
                raise ConfigError(f"no component named {anchor!r}; the pipeline has {self.pipe_names}")
            position = self.pipe_names.index(anchor) + (1 if after is not None else 0)
        self._components.insert(position, (name, component))

    def get_pipe(self, name: str) -> Component:
        """Return the component called ``name``.

        Raises:
            ConfigError: When there is none.
        """
        for component_name, component in self._components:
            if component_name == name:
                return component
        raise ConfigError(f"no component named {name!r}; the pipeline has {self.pipe_names}")

    def has_pipe(self, name: str) -> bool:
        """True if a component called ``name`` is in the pipeline."""
        return name in self._factories

    def remove_pipe(self, name: str) -> Component:
        """Remove the component called ``name`` and return it."""
        component = self.get_pipe(name)
        self._components = [(other, item) for other, item in self._components if other != name]
        del self._factories[name]
        return component

    @property
    def config(self) -> PipelineConfig:
        """The config that rebuilds this pipeline (learned state comes from ``to_disk``)."""
        return PipelineConfig(
            nlp=NlpConfig(
                lang=self.lang,
                pipeline=self.pipe_names,
                tokenizer=ComponentConfig(factory=self.tokenizer_factory, **self.tokenizer.to_dict()),
                max_length=self.max_length,
                device=self.device,
            ),
            components={
                name: ComponentConfig(factory=self._factories[name], **component.config)
                for name, component in self._components
            },
        )

    # --- running --------------------------------------------------------------------------------------------

    def make_doc(self, text: str) -> Doc:
        """Tokenize ``text`` into a ``Doc`` without running components.

        Raises:
            DataError: When ``text`` is not a string or is longer than ``max_length``.
        """
        if not isinstance(text, str):
            raise DataError(f"expected a text (str), got {type(text).__name__}")
        if len(text) > self.max_length:
            raise DataError(
                f"text of {len(text):,} characters is longer than max_length={self.max_length:,}; split it into "
                f"smaller documents or raise max_length in the [nlp] config"
            )
        return self.tokenizer(text)

    def __call__(self, text: str | Doc) -> Doc:
        """Run the pipeline on one text (or an already tokenized ``Doc``)."""
        doc = text if isinstance(text, Doc) else self.make_doc(text)
        for _, component in self._components:
            doc = component(doc)
        return doc

    def pipe(self, texts: Iterable[str | Doc], *, batch_size: int = 256, n_process: int = 1) -> Iterator[Doc]:
        """Run the pipeline over a stream of texts, in order, lazily.

        Args:
            texts: Texts or ``Doc`` objects.
            batch_size: Documents per batch handed to each component (and to each worker process).
            n_process: Worker processes; 1 runs in this process. Each worker gets a copy of the pipeline.

        Yields:
            Annotated documents, in input order.
        """
        check_batch_size(batch_size)
        if isinstance(n_process, bool) or not isinstance(n_process, int) or n_process < 1:
            raise ConfigError(f"n_process must be a positive integer, got {n_process!r}")
        if n_process == 1:
            docs: Iterable[Doc] = (text if isinstance(text, Doc) else self.make_doc(text) for text in texts)
            for _, component in self._components:
                docs = component.pipe(docs, batch_size=batch_size)
            yield from docs
            return
        yield from self._pipe_multiprocess(texts, batch_size, n_process)

    def _pipe_multiprocess(self, texts: Iterable[str | Doc], batch_size: int, n_process: int) -> Iterator[Doc]:
        # A forked child inherits torch's thread pool in whatever state the parent left it and can hang on its
        # first parallel operation; forkserver and spawn start clean. Each worker gets its share of the cores.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        threads = worker_threads(n_process)
        with context.Pool(n_process, initializer=_worker_init, initargs=(pickle.dumps(self), threads)) as pool:
            for batch in pool.imap(_worker_run, batches(texts, batch_size), chunksize=1):
                yield from batch

    # --- learning -------------------------------------------------------------------------------------------

    def _trainable(self, method: str, names: Iterable[str] | None = None) -> list[tuple[str, Any]]:
        chosen = None if names is None else set(names)
        return [
            (name, component) for name, component in self._components
            if hasattr(component, method) and (chosen is None or name in chosen)
        ]

    def initialize(self, get_examples: Callable[[], Iterable[Any]] | None = None, *,
                   components: Iterable[str] | None = None) -> None:
        """Initialise trainable components (labels, fresh weights) from training examples.

        Args:
            get_examples: Returns the training examples (``Example`` objects or documents with gold entities).
            components: Names to initialise; all trainable ones when None.
        """
        for _, component in self._trainable("initialize", components):
            component.initialize(get_examples)

    def update(
        self,
        examples: Iterable[Any],
        *,
        drop: float | None = None,
        sgd: Any = None,
        losses: dict[str, float] | None = None,
        exclude: Iterable[str] = (),
    ) -> dict[str, float]:
        """One learning step of every trainable component on a batch of examples (online learning).

        Args:
            examples: ``Example`` objects, or documents whose ``ents`` are the gold annotation.
            drop: Dropout rate for this step (None: each component's configured rate).
            sgd: An optimizer handed to each component (None: each component's own).
            losses: Accumulates each component's loss under its name.
            exclude: Components not to update.

        Returns:
            ``losses``.
        """
        return self._learn("update", examples, drop=drop, sgd=sgd, losses=losses, exclude=exclude)

    def rehearse(
        self,
        examples: Iterable[Any],
        *,
        drop: float | None = None,
        sgd: Any = None,
        losses: dict[str, float] | None = None,
        exclude: Iterable[str] = (),
    ) -> dict[str, float]:
        """A step of every trainable component towards its own earlier predictions on raw documents.

        Mix it with :meth:`update` when fine-tuning a trained pipeline on new data, against forgetting.
        """
        return self._learn("rehearse", examples, drop=drop, sgd=sgd, losses=losses, exclude=exclude)

    def _learn(self, method: str, examples: Iterable[Any], *, drop: float | None, sgd: Any,
               losses: dict[str, float] | None, exclude: Iterable[str]) -> dict[str, float]:
        batch = list(examples)
        losses = {} if losses is None else losses
        skipped = set(exclude)
        for name, component in self._trainable(method):
            if name not in skipped:
                getattr(component, method)(batch, drop=drop, sgd=sgd, losses=losses)
        return losses

    # --- saving ---------------------------------------------------------------------------------------------

    def _saved_config(self) -> PipelineConfig:
        """The config a saved pipeline records: its device is the CPU, so that it loads on any machine."""
        config = self.config
        return config.model_copy(update={"nlp": config.nlp.model_copy(update={"device": "cpu"})})

    def to_disk(self, path: str | Path) -> None:
        """Save to a directory: ``manifest.json``, ``config.toml``, the tokenizer, one folder per component.

        Weights are written from the CPU, and the saved config records ``device = "cpu"``: where a loaded pipeline
        runs is chosen when it is loaded (``from_disk(path, device=...)``, ``--gpu-id``).
        """
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        save_config(self._saved_config(), directory / _CONFIG_NAME)
        (directory / _TOKENIZER_DIR).mkdir(exist_ok=True)
        for name, component in self._components:
            (directory / name).mkdir(exist_ok=True)
            component.to_disk(directory / name)
        write_manifest(
            directory / MANIFEST_NAME,
            {
                "lang": self.lang,
                "pipeline": [{"name": name, "factory": self._factories[name]} for name in self.pipe_names],
                "config": _CONFIG_NAME,
            },
        )

    @classmethod
    def from_disk(cls, path: str | Path, *, device: str | None = None) -> Pipeline:
        """Load a pipeline saved by ``to_disk``; its weights are loaded onto ``device`` (None: the CPU).

        Raises:
            ModelError: A missing or inconsistent directory.
            ConfigError: Its config names an unknown factory, or a device this machine does not have.
        """
        directory = Path(path)
        manifest = read_manifest(directory / MANIFEST_NAME)
        nlp = cls.from_config(load_config(directory / manifest.get("config", _CONFIG_NAME)), device=device)
        recorded = [entry.get("name") for entry in manifest.get("pipeline", [])]
        if recorded != nlp.pipe_names:
            raise ModelError(f"{directory}: manifest lists components {recorded}, config has {nlp.pipe_names}")
        for name, component in nlp._components:
            if not (directory / name).is_dir():
                raise ModelError(f"{directory}: missing the folder of component {name!r}")
            component.from_disk(directory / name)
        return nlp

    def to_bytes(self) -> bytes:
        """The whole pipeline as bytes: its config and each component's ``to_bytes`` (see :meth:`from_bytes`)."""
        files = {_CONFIG_BYTES: json.dumps(self._saved_config().to_dict()).encode("utf-8")}
        files.update({f"{_COMPONENT_PREFIX}{name}": component.to_bytes() for name, component in self._components})
        return pack_files(files)

    @classmethod
    def from_bytes(cls, data: bytes, *, device: str | None = None) -> Pipeline:
        """Rebuild a pipeline from :meth:`to_bytes` output: its config, then each component's state (on ``device``).

        Raises:
            ModelError: The bytes are not a pipeline's, or miss a component.
            ConfigError: Its config names an unknown factory (import or ``--code`` the module that registers it).
        """
        files = unpack_files(data, "a pipeline (Pipeline.to_bytes)")
        if _CONFIG_BYTES not in files:
            raise ModelError("these bytes are not a pipeline's (no config); make them with Pipeline.to_bytes()")
        try:
            config = json.loads(files[_CONFIG_BYTES].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ModelError(f"the pipeline's config in these bytes is damaged: {error}") from None
        nlp = cls.from_config(config, device=device)
        for name, component in nlp._components:
            state = files.get(f"{_COMPONENT_PREFIX}{name}")
            if state is None:
                raise ModelError(f"these pipeline bytes miss the state of component {name!r}")
            component.from_bytes(state)
        return nlp

    def __repr__(self) -> str:
        return f"Pipeline(lang={self.lang!r}, pipeline={self.pipe_names})"


_WORKER_PIPELINE: Pipeline | None = None


def _worker_init(pipeline_bytes: bytes, threads: int) -> None:
    global _WORKER_PIPELINE
    set_threads(threads)  # before the pipeline's models are unpickled
    _WORKER_PIPELINE = pickle.loads(pipeline_bytes)


def _worker_run(batch: list[str | Doc]) -> list[Doc]:
    if _WORKER_PIPELINE is None:
        raise ModelError("worker process has no pipeline")
    return list(_WORKER_PIPELINE.pipe(batch, batch_size=len(batch) or 1))
