"""The house rules, checked on the source: layers, no import circles, module sizes, a light `import elkit`."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "elkit"
# Pure data tables may be long; code modules may not.
DATA_TABLES = {"tokenize/rules.py"}
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in SOURCE.rglob("*.py")}


def resolve(name: str) -> str | None:
    """The elkit module an import names (a name imported from a module resolves to the module)."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(module: str) -> set[str]:
    """Every elkit module `module` imports, at module level or inside functions, type-only imports aside."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base
                         for alias in child.names]
            else:
                visit(child)
                continue
            for name in names:
                target = resolve(name) if name.startswith("elkit") else None
                if target is not None and target != module:
                    found.add(target)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def offenders(packages: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for module in modules():
        if layer(module).removesuffix(".py") in packages:
            found += [f"{module} imports {target}" for target in sorted(imports_of(module))
                      if layer(target) in forbidden]
    return found


def test_lower_layers_never_import_the_models_or_the_edges():
    assert offenders(("doc", "tokenize", "kb", "candidates", "corpora", "encoders"),
                     ("ner", "linking", "annotate", "cli")) == []


def test_linking_never_imports_ner():
    assert offenders(("linking",), ("ner",)) == []


def test_the_core_never_imports_cli_or_annotate():
    core = tuple({layer(module) for module in modules()} - {"cli", "annotate", "__main__"})
    assert offenders(core, ("cli", "annotate")) == []


def test_doc_is_plain_python():
    for module in modules():
        if layer(module) == "doc":
            text = modules()[module].read_text(encoding="utf-8")
            assert "import torch" not in text and "import numpy" not in text, module
            assert {layer(target) for target in imports_of(module)} <= {"doc", "errors"}, module


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_circle_finder_finds_a_circle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_even_through_function_level_imports():
    graph = {module: imports_of(module) for module in modules()}
    assert strongly_connected(graph) == []


def test_no_module_over_the_size_limit():
    long = []
    for path in modules().values():
        relative = path.relative_to(SOURCE).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and relative not in DATA_TABLES:
            long.append(f"{relative}: {lines} lines")
    assert long == []


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


def test_import_elkit_is_light():
    loaded = json.loads(run_python("import sys, json, elkit; print(json.dumps(sorted(sys.modules)))"))
    heavy = [name for name in loaded if name.split(".")[0] in ("torch", "transformers", "numpy", "pydantic",
                                                                 "rich", "typer", "sqlalchemy", "fastapi")]
    assert heavy == []
    assert [name for name in loaded if name.startswith("elkit")] == ["elkit", "elkit.errors"]


def test_registry_lists_built_in_factories_without_importing_them():
    code = ("import sys, json, elkit; names = elkit.factories.names(); "
            "print(json.dumps([names, 'torch' in sys.modules]))")
    names, torch_loaded = json.loads(run_python(code))
    assert {"elkit.EntityLinker.v1", "elkit.EntityRuler.v1", "elkit.Sentencizer.v1", "elkit.SpanNER.v1"} <= set(names)
    assert torch_loaded is False
