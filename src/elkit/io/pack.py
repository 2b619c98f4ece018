"""Several named files in one bytes object: a length-prefixed JSON table of contents, then the files."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping

from elkit.errors import ModelError

__all__ = ["pack_files", "unpack_files"]


def pack_files(files: Mapping[str, bytes]) -> bytes:
    """Join named files into one bytes object (what components return from ``to_bytes``)."""
    table = json.dumps({name: len(data) for name, data in files.items()}).encode("utf-8")
    buffer = io.BytesIO()
    buffer.write(struct.pack("<Q", len(table)))
    buffer.write(table)
    for data in files.values():
        buffer.write(data)
    return buffer.getvalue()


def unpack_files(data: bytes, what: str) -> dict[str, bytes]:
    """Split :func:`pack_files` output back into named files.

    Raises:
        ModelError: The bytes are not packed files (``what`` names the expected content in the message).
    """
    try:
        (length,) = struct.unpack_from("<Q", data)
        table = json.loads(data[8: 8 + length])
        files: dict[str, bytes] = {}
        position = 8 + length
        for name, size in table.items():
            files[name] = data[position: position + size]
            position += size
    except (struct.error, ValueError, AttributeError) as error:
        raise ModelError(f"{what}: not packed model files") from error
    if position != len(data):
        raise ModelError(f"{what}: packed model files have the wrong length")
    return files
