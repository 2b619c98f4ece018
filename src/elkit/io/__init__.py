"""Saving and loading helpers: the manifest with versions, packed files, and the one reader of line-based files."""

from elkit.io.disk import MANIFEST_NAME, read_manifest, write_manifest
from elkit.io.pack import pack_files, unpack_files

__all__ = ["MANIFEST_NAME", "pack_files", "read_manifest", "unpack_files", "write_manifest"]
