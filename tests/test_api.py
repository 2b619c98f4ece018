"""The public surface and the version (the layering rules are in test_architecture.py)."""

import tomllib
from pathlib import Path

import elkit

SOURCE = Path(__file__).resolve().parents[1] / "src" / "elkit"


def test_all_is_sorted_and_complete():
    def isort_style(name):  # constants, then classes, then the rest (ruff's RUF022 order)
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert list(elkit.__all__) == sorted(elkit.__all__, key=isort_style)
    public = {name for name in vars(elkit) if not name.startswith("_") and not isinstance(getattr(elkit, name),
                                                                                            type(elkit))}
    assert public <= set(elkit.__all__) | {"annotations"}
    for name in elkit.__all__:
        assert hasattr(elkit, name)


def test_version_is_single_sourced():
    pyproject = tomllib.loads((SOURCE.parents[1] / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "elkit.__version__"}
    assert elkit.__version__.count(".") == 2
