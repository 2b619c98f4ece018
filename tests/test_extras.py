"""Optional parts: a missing extra is a one-line error with the pip command, not a traceback."""

import importlib
import io
import sys

import pytest
from rich.console import Console

from elkit.errors import ConfigError
from elkit.extras import require
from elkit.training import curve


def test_a_missing_extra_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # importing it now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'elkit\[annotate\]'"):
        require("sqlalchemy", "annotate", "the annotation store")
    assert require("json", "none", "json").dumps([1]) == "[1]"


def test_the_annotate_package_checks_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delitem(sys.modules, "elkit.annotate", raising=False)
    with pytest.raises(ConfigError, match="fastapi"):
        importlib.import_module("elkit.annotate")


def test_train_curve_without_matplotlib_says_so_and_keeps_the_scores(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    output = io.StringIO()
    curve._plot([{"share": 0.5, "ents_f": 0.8}], tmp_path / "curve.png", Console(file=output, width=200))
    assert "pip install 'elkit[plot]'" in output.getvalue()
    assert not (tmp_path / "curve.png").exists()
