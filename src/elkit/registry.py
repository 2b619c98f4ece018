"""Versioned names for the things a config file can build: ``"elkit.Sentencizer.v1"`` → a factory.

A released name is never changed; a new behaviour gets ``.v2`` next to it and ``.v1`` keeps loading.

Registration happens next to the code: a component module declares its settings model and decorates its factory
with ``@factories.register("elkit.Name.v1", settings=NameSettings)``. So that ``import elkit`` stays light, the
built-in names are listed once, below, with the module that registers each; that module is imported the first
time its name is asked for. Other packages register through the ``elkit_factories`` entry point group (name →
module), read on first use as well.

A factory is called as ``factory(nlp=..., name=..., settings=...)``: ``settings`` is the validated settings model
when one is registered (otherwise the config's keys are checked against the factory's signature), ``nlp`` the
pipeline building it (passed only to factories that take it, as spaCy passes ``nlp``).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from elkit.errors import ConfigError
from elkit.settings import Settings, settings_error, validate_settings

__all__ = ["BUILTIN_FACTORIES", "BUILTIN_TOKENIZERS", "Registered", "Registry", "factories", "import_code",
           "tokenizers"]

_NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+\.v\d+$")
Factory = TypeVar("Factory", bound=Callable[..., Any])

BUILTIN_FACTORIES: dict[str, str] = {
    "elkit.AliasMentions.v1": "elkit.linking.alias_mentions",
    "elkit.EntityLinker.v1": "elkit.linking.component",
    "elkit.EntityRuler.v1": "elkit.ner.ruler",
    "elkit.GeneralLinker.v1": "elkit.linking.general",
    "elkit.Sentencizer.v1": "elkit.tokenize.sentences",
    "elkit.SpanNER.v1": "elkit.ner.component",
    "elkit.ZeroShotNER.v1": "elkit.ner.zeroshot",
}
"""Every built-in component factory, with the module that registers it."""

BUILTIN_TOKENIZERS: dict[str, str] = {
    "elkit.Tokenizer.v1": "elkit.tokenize.tokenizer",
}
"""Every built-in tokenizer factory, with the module that registers it."""


@dataclass(frozen=True)
class Registered:
    """A registered factory and the settings model it takes (None: keyword arguments checked by signature)."""

    factory: Callable[..., Any]
    settings: type[Settings] | None


class Registry:
    """Maps versioned names to factories, importing a factory's module on first use.

    Args:
        kind: What the registry holds, for messages ("component factory").
        builtins: Name → module that registers it, imported when the name is first asked for.
        entry_point_group: Entry point group of other packages' names (name → module), read on first use.
    """

    def __init__(
        self, kind: str, builtins: Mapping[str, str] | None = None, entry_point_group: str | None = None
    ) -> None:
        self.kind = kind
        self._entries: dict[str, Registered] = {}
        self._modules: dict[str, str] = dict(builtins or {})
        self._entry_point_group = entry_point_group
        self._entry_points_read = entry_point_group is None

    def register(self, name: str, *, settings: type[Settings] | None = None) -> Callable[[Factory], Factory]:
        """Decorator that registers a factory under ``name`` ("namespace.Name.vN"), with its settings model.

        Raises:
            ConfigError: When the name is malformed or taken by another factory.
        """
        if not _NAME.match(name):
            raise ConfigError(f"{self.kind} name {name!r} must look like 'namespace.Name.v1'")

        def decorate(factory: Factory) -> Factory:
            known = self._entries.get(name)
            if known is not None and known.factory is not factory and _where(known.factory) != _where(factory):
                raise ConfigError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = Registered(factory, settings)
            return factory

        return decorate

    def _read_entry_points(self) -> None:
        if self._entry_points_read:
            return
        self._entry_points_read = True
        for point in entry_points(group=self._entry_point_group or ""):
            self._modules.setdefault(point.name, point.value.partition(":")[0])

    def entry(self, name: str) -> Registered:
        """The factory registered as ``name`` and its settings model, importing its module if needed.

        Raises:
            ConfigError: When nothing is registered under the name, with the closest known names.
        """
        if name not in self._entries:
            self._read_entry_points()
            module = self._modules.get(name)
            if module is not None:
                importlib.import_module(module)
        try:
            return self._entries[name]
        except KeyError:
            known = self.names()
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
            raise ConfigError(f"unknown {self.kind} {name!r}{hint}") from None

    def get(self, name: str) -> Callable[..., Any]:
        """Return the factory registered as ``name`` (see :meth:`entry`)."""
        return self.entry(name).factory

    def settings_model(self, name: str) -> type[Settings] | None:
        """Return the settings model registered with ``name``, or None."""
        return self.entry(name).settings

    def names(self) -> list[str]:
        """All registered names (built-in ones included, imported or not), sorted."""
        self._read_entry_points()
        return sorted(set(self._entries) | set(self._modules))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def make(self, registered_name: str, settings: Mapping[str, Any] | Settings | None, /, **context: Any) -> Any:
        """Call the factory ``registered_name`` with ``settings`` validated.

        Args:
            registered_name: The registered name.
            settings: A config section's keys (or a settings model instance).
            **context: What the caller supplies besides settings (``name``, ``nlp``); each is passed only when
                the factory takes it.

        Raises:
            ConfigError: An unknown setting or a value of the wrong type, naming the setting.
        """
        name = registered_name
        entry = self.entry(name)
        parameters = inspect.signature(entry.factory).parameters
        accepts_any = any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values())
        passed = {key: value for key, value in context.items() if key in parameters or accepts_any}
        if entry.settings is not None:
            model = validate_settings(entry.settings, settings, name)
            return entry.factory(settings=model, **passed)
        values = settings.model_dump() if isinstance(settings, Settings) else dict(settings or {})
        unknown = [key for key in values if key not in parameters and not accepts_any]
        if unknown:
            allowed = [key for key in parameters if key not in context]
            raise ConfigError(f"{name}: unknown setting(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        checked = pydantic.validate_call(config={"arbitrary_types_allowed": True})(entry.factory)
        try:
            return checked(**values, **passed)
        except pydantic.ValidationError as error:
            raise settings_error(name, error) from None


def import_code(path: str | Path) -> None:
    """Import a Python file once, so that the components it registers can be built from a config (``--code``).

    Raises:
        ConfigError: The file is missing or fails while it is imported (the error names the file).
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"--code {file}: no such file")
    name = "elkit_code_" + hashlib.sha1(str(file.resolve()).encode("utf-8")).hexdigest()[:16]
    if name in sys.modules:  # imported already (by the command line, then by a worker in the same process)
        return
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"--code {file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise ConfigError(f"--code {file}: importing it failed: {type(error).__name__}: {error}") from error


def _where(factory: Callable[..., Any]) -> str:
    """A factory's qualified name: a module imported twice (as a script, say) registers the same name again."""
    return f"{getattr(factory, '__module__', '')}.{getattr(factory, '__qualname__', '')}"


factories = Registry("component factory", BUILTIN_FACTORIES, entry_point_group="elkit_factories")
"""Pipeline components: ``factory(nlp=..., name=..., settings=...) -> component``."""

tokenizers = Registry("tokenizer", BUILTIN_TOKENIZERS, entry_point_group="elkit_tokenizers")
"""Tokenizers: ``factory(settings=...) -> Tokenizer``."""
