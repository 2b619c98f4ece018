"""One exception tree for elkit, with a process exit code on every class.

The tree::

    ElkitError (exit 1)
    ├── ConfigError (exit 2)         a config file, option or registry name is wrong
    ├── DataError (exit 3)           input data is malformed
    │   ├── FormatError              a corpus file breaks its format (file, line, field)
    │   └── AlignmentError           a span does not fall on token boundaries
    ├── KBError (exit 4)             a knowledge base write or lookup is invalid
    ├── ModelError (exit 5)          a model or pipeline cannot be built, loaded or run
    └── StoreError (exit 6)          the annotation database failed

The command line turns any of these into a one-line message and exits with the class's code. Everything
else (a bug) exits with 70 and a traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AlignmentError",
    "ConfigError",
    "DataError",
    "ElkitError",
    "FormatError",
    "KBError",
    "ModelError",
    "StoreError",
]


class ElkitError(Exception):
    """Base class of every error elkit raises on purpose."""

    exit_code: int = 1


class ConfigError(ElkitError):
    """A configuration file, option or registered name is invalid."""

    exit_code = 2


class DataError(ElkitError):
    """Input data is malformed or inconsistent."""

    exit_code = 3


class FormatError(DataError):
    """A record in a corpus file breaks the file's format.

    Args:
        message: What is wrong, in words.
        path: The file, when known.
        line: The 1-based line number, when known.
        field: The column or key that is wrong, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(self._render())

    def at(self, path: str | Path | None, line: int | None) -> FormatError:
        """Return a copy of this error located at ``path`` and ``line`` (kept if already set)."""
        return FormatError(
            self.message,
            path=self.path if self.path is not None else path,
            line=self.line if self.line is not None else line,
            field=self.field,
        )

    def _render(self) -> str:
        location = self.path or "<input>"
        if self.line is not None:
            location += f":{self.line}"
        if self.field is not None:
            location += f" [{self.field}]"
        return f"{location}: {self.message}"


class AlignmentError(DataError):
    """A span's character offsets do not fall on token boundaries."""


class KBError(ElkitError):
    """A knowledge base write or lookup is invalid."""

    exit_code = 4


class ModelError(ElkitError):
    """A model or pipeline cannot be built, loaded or run."""

    exit_code = 5


class StoreError(ElkitError):
    """The annotation database failed."""

    exit_code = 6
