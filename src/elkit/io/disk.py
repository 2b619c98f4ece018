"""Save through a dict of named writers (each gets its own path inside a directory) plus a manifest."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elkit.errors import ModelError

__all__ = ["MANIFEST_NAME", "from_disk", "read_manifest", "to_disk", "write_manifest"]

MANIFEST_NAME = "manifest.json"


def to_disk(path: str | Path, writers: Mapping[str, Callable[[Path], None]]) -> Path:
    """Create ``path`` and call each writer with ``path / name``."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for name, writer in writers.items():
        writer(directory / name)
    return directory


def from_disk(path: str | Path, readers: Mapping[str, Callable[[Path], None]]) -> Path:
    """Call each reader with ``path / name``.

    Raises:
        ModelError: When ``path`` or an expected entry is missing.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise ModelError(f"{directory}: not a directory")
    for name, reader in readers.items():
        if not (directory / name).exists():
            raise ModelError(f"{directory}: missing {name!r}")
        reader(directory / name)
    return directory


def write_manifest(path: str | Path, content: Mapping[str, Any]) -> None:
    """Write ``manifest.json`` with the elkit and Python versions and a UTC timestamp added."""
    from elkit import __version__

    manifest = {
        "elkit_version": __version__,
        "python_version": platform.python_version(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **content,
    }
    Path(path).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read a ``manifest.json``.

    Raises:
        ModelError: When it is missing or not a JSON object.
    """
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ModelError(f"{path}: cannot read the manifest: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise ModelError(f"{path}: the manifest is not valid JSON: {error}") from error
    if not isinstance(manifest, dict):
        raise ModelError(f"{path}: the manifest must be a JSON object")
    return manifest
