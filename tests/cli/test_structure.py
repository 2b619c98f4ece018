"""The command line's shape: a leaf app module, commands as plain functions registered in one place, no circle."""

import ast
import importlib
from pathlib import Path

import elkit.cli
from elkit.cli.main import COMMANDS, DEBUG_COMMANDS, INIT_COMMANDS, KB_COMMANDS, VECTORS_COMMANDS, main

CLI = Path(elkit.cli.__file__).parent
COMMAND_MODULES = ("agreement", "annotate", "corpus", "debug", "kb", "link", "package", "run", "setup", "train")


def cli_imports(name: str) -> set[str]:
    """The elkit.cli modules a cli module imports, at module level or inside functions."""
    tree = ast.parse((CLI / f"{name}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "elkit.cli":
            found |= {f"elkit.cli.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("elkit.cli."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("elkit.cli")}
    return found


def test_the_app_module_is_a_leaf():
    assert cli_imports("app") == set()


def test_command_modules_import_only_the_app_and_the_helpers():
    for name in COMMAND_MODULES:
        assert cli_imports(name) <= {"elkit.cli.app", "elkit.cli.common", "elkit.cli.material",
                                     "elkit.cli.sharded"}, name
    assert cli_imports("common") == set()
    assert cli_imports("sharded") <= {"elkit.cli.app"}
    assert cli_imports("material") <= {"elkit.cli.app", "elkit.cli.common"}


def test_command_modules_register_nothing_themselves():
    for name in COMMAND_MODULES:
        text = (CLI / f"{name}.py").read_text(encoding="utf-8")
        assert ".command(" not in text and "add_typer(" not in text, name


def test_every_public_command_function_is_registered():
    registered = {function for _, function in COMMANDS + KB_COMMANDS + VECTORS_COMMANDS + INIT_COMMANDS
                  + DEBUG_COMMANDS}
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"elkit.cli.{name}")
        assert {getattr(module, public) for public in module.__all__} <= registered, name


def test_help_lists_every_registered_command(capsys):
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    for name, _ in COMMANDS:
        assert name in listed
    assert "kb" in listed and "vectors" in listed
    assert main(["kb", "--help"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name, _ in KB_COMMANDS)
