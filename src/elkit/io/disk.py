"""The manifest of a saved pipeline: ``manifest.json`` with the elkit and Python versions, written and read."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elkit.errors import ModelError

__all__ = ["MANIFEST_NAME", "read_manifest", "write_manifest"]

MANIFEST_NAME = "manifest.json"


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
