"""The base of every component's settings model: declared once, beside the component, and registered with it.

A component's settings are a pydantic model deriving from :class:`Settings`. The factory registered under the
component's versioned name takes the validated model; the component keeps it as ``settings`` and derives its
``config`` (what a saved pipeline writes to ``config.toml``) from it. Sub-settings are models too, and a choice
between kinds (an encoder's architecture) is a tagged union.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, TypeVar

import pydantic

from elkit.errors import ConfigError

__all__ = ["PathText", "Settings", "settings_error", "validate_settings"]

Model = TypeVar("Model", bound="Settings")


def _path_as_text(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


PathText = Annotated[str, pydantic.BeforeValidator(_path_as_text)]
"""A file or folder setting: a string in configs; a ``Path`` given from Python is kept as its string."""


class Settings(pydantic.BaseModel):
    """Immutable, strict settings: unknown keys are an error, values are checked on creation."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, validate_default=True)

    def to_config(self) -> dict[str, Any]:
        """The settings as plain TOML-ready values (None left out, since TOML has no null)."""
        return self.model_dump(mode="json", exclude_none=True)


def settings_error(where: str, error: pydantic.ValidationError, model: type[Settings] | None = None) -> ConfigError:
    """Turn a pydantic validation error into one ConfigError naming every bad setting by its dotted path.

    Args:
        where: What was being validated, for the message ("elkit.SpanNER.v1").
        error: The validation error.
        model: The settings model; an unknown top-level setting then lists the allowed ones.
    """
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "settings"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown setting"
            if model is not None and len(item["loc"]) == 1:
                message += f"; allowed: {', '.join(model.model_fields)}"
        problems.append(f"{location}: {message}")
    return ConfigError(f"{where}: {'; '.join(problems)}")


def validate_settings(model: type[Model], values: Any, where: str) -> Model:
    """Validate ``values`` (a mapping, or a model instance) into ``model``.

    Raises:
        ConfigError: A setting is unknown or has a bad value, naming it.
    """
    if isinstance(values, model):
        return values
    if isinstance(values, Settings):
        values = values.model_dump()
    try:
        return model.model_validate({} if values is None else values)
    except pydantic.ValidationError as error:
        raise settings_error(where, error, model) from None
