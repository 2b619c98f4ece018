"""Saving a model component as a folder of files or as bytes: one implementation for every NER component.

A component that mixes in :class:`SavedAsFiles` implements ``_files()`` (file name → bytes) and
``_load_files(files, where)``; it gets ``to_disk`` / ``from_disk`` / ``to_bytes`` / ``from_bytes`` and pickling
without its optimizer or rehearsal teacher.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

from elkit.errors import ModelError
from elkit.io.pack import pack_files, unpack_files

__all__ = ["SavedAsFiles"]


class SavedAsFiles:
    """Folder and bytes round trips from ``_files`` / ``_load_files``."""

    name: str
    marker: ClassVar[str] = "model.json"
    """The file whose presence makes a folder a saved model of this component."""

    def _files(self) -> dict[str, bytes]:
        raise NotImplementedError

    def _load_files(self, files: dict[str, bytes], where: str) -> None:
        raise NotImplementedError

    @staticmethod
    def _write_folder(path: str | Path, files: dict[str, bytes]) -> None:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def to_disk(self, path: str | Path) -> None:
        """Write the model's files into the folder ``path``."""
        self._write_folder(path, self._files())

    def from_disk(self, path: str | Path) -> Self:
        """Load a model saved by :meth:`to_disk`."""
        directory = Path(path)
        if not (directory / self.marker).is_file():
            raise ModelError(f"{directory}: no {self.marker}; was the component trained and saved?")
        files = {str(file.relative_to(directory)): file.read_bytes() for file in directory.rglob("*")
                 if file.is_file()}
        self._load_files(files, str(directory))
        return self

    def to_bytes(self) -> bytes:
        """The model as bytes: a length-prefixed JSON table of contents, then the files."""
        return pack_files(self._files())

    def from_bytes(self, data: bytes) -> Self:
        """Load a model from :meth:`to_bytes` output."""
        self._load_files(unpack_files(data, f"{self.name} ({type(self).__name__} bytes)"), self.name)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_optimizer"] = None
        state["_teacher"] = None
        return state
