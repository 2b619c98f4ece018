"""The typer apps (the ``elkit`` app and its ``kb`` and ``vectors`` groups), the shared console, global options.

A leaf of the command line: it imports no command module. The commands are plain functions in the other
modules, registered in one place, :mod:`elkit.cli.main`.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from elkit import __version__

__all__ = ["app", "debug_app", "error_console", "init_app", "kb_app", "state", "vectors_app"]

app = typer.Typer(
    name="elkit",
    help="Find named entities in text and ground them in a knowledge base.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
kb_app = typer.Typer(help="Build, inspect, embed and query knowledge bases.", no_args_is_help=True)
vectors_app = typer.Typer(help="Static word vectors for the fast encoder.", no_args_is_help=True)
init_app = typer.Typer(help="Start a project: a commented config to train from.", no_args_is_help=True)
debug_app = typer.Typer(help="Check training data before training.", no_args_is_help=True)
error_console = Console(stderr=True)
state: dict[str, Any] = {"verbose": False, "code": []}
"""Global options of the current run (``--verbose``; the ``--code`` files, imported before parsing)."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"elkit {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show full tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the elkit version and exit."
    ),
    code: list[str] = typer.Option(
        [], "--code", help="A Python file to import first (it registers custom components); repeatable, and "
        "accepted anywhere on the command line, as in `elkit apply MODEL IN OUT --code my_components.py`."),
) -> None:
    """Find named entities in text and ground them in a knowledge base."""
    del code  # imported by elkit.cli.main before the command line is parsed
    state["verbose"] = verbose
