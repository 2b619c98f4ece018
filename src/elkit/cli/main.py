"""Entry point: every command registered in one place, and the mapping of elkit errors to one-line messages."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import typer

from elkit.cli import agreement, annotate, corpus, debug, kb, link, package, run, setup, train
from elkit.cli.app import app, debug_app, init_app, kb_app, state, vectors_app
from elkit.cli.common import take_code_options
from elkit.errors import ElkitError
from elkit.registry import import_code

__all__ = ["COMMANDS", "DEBUG_COMMANDS", "INIT_COMMANDS", "KB_COMMANDS", "VECTORS_COMMANDS", "app", "main"]

COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("annotate", annotate.annotate),
    ("db-in", annotate.db_in),
    ("db-out", annotate.db_out),
    ("drop", annotate.drop),
    ("data-to-spacy", annotate.data_to_spacy),
    ("train-curve", annotate.train_curve),
    ("agreement", agreement.agreement),
    ("stats", corpus.stats),
    ("convert", corpus.convert),
    ("link", link.link),
    ("package", package.package_command),
    ("apply", run.apply),
    ("train", train.train_command),
    ("evaluate", train.evaluate),
    ("info", setup.info),
)
"""The ``elkit`` commands, in the order ``elkit --help`` lists them."""

KB_COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("build", kb.build),
    ("info", kb.info),
    ("embed", kb.embed),
    ("query", kb.query),
)
"""The ``elkit kb`` commands."""

VECTORS_COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (("distill", train.distill),)
"""The ``elkit vectors`` commands."""

INIT_COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (("config", setup.init_config),)
"""The ``elkit init`` commands."""

DEBUG_COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (("data", debug.debug_data),)
"""The ``elkit debug`` commands."""


def _register() -> None:
    for name, command in COMMANDS:
        app.command(name)(command)
    for name, command in KB_COMMANDS:
        kb_app.command(name)(command)
    for name, command in VECTORS_COMMANDS:
        vectors_app.command(name)(command)
    for name, command in INIT_COMMANDS:
        init_app.command(name)(command)
    for name, command in DEBUG_COMMANDS:
        debug_app.command(name)(command)
    app.add_typer(kb_app, name="kb")
    app.add_typer(vectors_app, name="vectors")
    app.add_typer(init_app, name="init")
    app.add_typer(debug_app, name="debug")


_register()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (elkit errors give their class's code, bugs 70).

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        code, arguments = take_code_options(arguments)
        for path in code:
            import_code(path)
        state["code"] = code
        result = app(args=arguments, prog_name="elkit", standalone_mode=False)
    except typer.Exit as exit_:
        return exit_.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except typer.exceptions.TyperException as error:  # usage errors: a missing argument, a bad option
        show = getattr(error, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"error: {error}", err=True)
        return int(getattr(error, "exit_code", 2))
    except ElkitError as error:
        if state["verbose"] or "--verbose" in arguments or "-v" in arguments:
            typer.echo(traceback.format_exc(), err=True)
        typer.echo(f"error: {error}", err=True)
        return error.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception:
        typer.echo(traceback.format_exc(), err=True)
        typer.echo("error: an unexpected failure (a bug in elkit): please report it with the traceback", err=True)
        return 70
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
