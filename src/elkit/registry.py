"""Versioned names for the things a config file can build: ``"elkit.Sentencizer.v1"`` → a factory.

A released name is never changed; a new behaviour gets ``.v2`` next to it and ``.v1`` keeps loading. Built-in
factories are registered in one place, :mod:`elkit.pipeline.factories`.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pydantic

from elkit.errors import ConfigError

__all__ = ["Registry", "factories", "tokenizers"]

_NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+\.v\d+$")
Factory = TypeVar("Factory", bound=Callable[..., Any])


class Registry:
    """Maps versioned names to factories.

    Args:
        kind: What the registry holds, for messages ("component factory").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Factory], Factory]:
        """Decorator that registers a factory under ``name`` ("namespace.Name.vN").

        Raises:
            ConfigError: When the name is malformed or taken.
        """
        if not _NAME.match(name):
            raise ConfigError(f"{self.kind} name {name!r} must look like 'namespace.Name.v1'")

        def decorate(factory: Factory) -> Factory:
            if name in self._entries and self._entries[name] is not factory:
                raise ConfigError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = factory
            return factory

        return decorate

    def get(self, name: str) -> Callable[..., Any]:
        """Return the factory registered as ``name``.

        Raises:
            ConfigError: When nothing is registered under the name, with the closest known names.
        """
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(self._entries))}"
            raise ConfigError(f"unknown {self.kind} {name!r}{hint}") from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def make(self, registered_name: str, settings: Mapping[str, Any], /, **context: Any) -> Any:
        """Call the factory ``registered_name`` with ``settings`` checked against its signature.

        Args:
            registered_name: The registered name.
            settings: Keyword arguments from a config section.
            **context: Extra keyword arguments the caller supplies (the component's name, say).

        Raises:
            ConfigError: An unknown setting or a value of the wrong type, naming the setting.
        """
        name = registered_name
        factory = self.get(name)
        parameters = inspect.signature(factory).parameters
        accepts_any = any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values())
        unknown = [key for key in settings if key not in parameters and not accepts_any]
        if unknown:
            allowed = [key for key in parameters if key not in context]
            raise ConfigError(f"{name}: unknown setting(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        checked = pydantic.validate_call(config={"arbitrary_types_allowed": True})(factory)
        try:
            return checked(**settings, **context)
        except pydantic.ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
            )
            raise ConfigError(f"{name}: {problems}") from None


factories = Registry("component factory")
"""Pipeline components: ``factory(name=..., **settings) -> component``."""

tokenizers = Registry("tokenizer")
"""Tokenizers: ``factory(**settings) -> Tokenizer``."""
