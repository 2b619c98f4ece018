"""Saving and loading: named writers and readers over a directory, and a manifest with versions."""

from elkit.io.disk import MANIFEST_NAME, from_disk, read_manifest, to_disk, write_manifest
from elkit.io.pack import pack_files, unpack_files

__all__ = ["MANIFEST_NAME", "from_disk", "pack_files", "read_manifest", "to_disk", "unpack_files", "write_manifest"]
