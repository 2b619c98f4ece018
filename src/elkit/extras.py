"""Optional parts of elkit (pip extras): a clear message, with the install command, when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from elkit.errors import ConfigError

__all__ = ["missing_extra", "require"]


def missing_extra(module: str, extra: str, purpose: str) -> ConfigError:
    """The error for an optional package that is not installed."""
    return ConfigError(f"{purpose} needs the optional package {module!r}: pip install 'elkit[{extra}]'")


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` from the extra ``extra``.

    Args:
        module: The module to import ("sqlalchemy").
        extra: The pip extra that installs it ("annotate").
        purpose: What needs it, for the message ("the annotation store").

    Raises:
        ConfigError: The module is not installed, with the pip command that installs it.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise missing_extra(module, extra, purpose) from None
