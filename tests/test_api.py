"""The public surface, the version, and the layering rule."""

import ast
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


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_the_edges():
    edges = ("elkit.cli", "elkit.annotate")
    offenders = []
    for path in SOURCE.rglob("*.py"):
        relative = path.relative_to(SOURCE).parts
        if relative[0] in ("cli", "annotate", "__main__.py"):  # the edges, and the `python -m elkit` entry point
            continue
        for module in imported_modules(path):
            if module.startswith(edges):
                offenders.append(f"{path.relative_to(SOURCE)} imports {module}")
    assert offenders == []


def test_doc_layer_is_plain_python():
    for path in (SOURCE / "doc").rglob("*.py"):
        for module in imported_modules(path):
            assert not module.startswith(("torch", "elkit.kb", "elkit.pipeline", "elkit.tokenize", "numpy")), (
                f"{path.name} imports {module}")


def test_kb_and_candidates_sit_below_the_models():
    # doc <- kb <- candidates <- linking: lower layers never import higher ones.
    rules = {
        "kb": ("elkit.candidates", "elkit.linking", "elkit.ner", "elkit.pipeline"),
        "candidates": ("elkit.linking", "elkit.ner", "elkit.pipeline"),
        "ner": ("elkit.kb", "elkit.candidates", "elkit.linking", "elkit.pipeline", "elkit.training"),
        "linking": ("elkit.cli",),
        "evaluation": ("elkit.cli",),
    }
    offenders = []
    for package, forbidden in rules.items():
        for path in (SOURCE / package).rglob("*.py"):
            offenders += [f"{path.name} imports {module}" for module in imported_modules(path)
                          if module.startswith(forbidden)]
    assert offenders == []
