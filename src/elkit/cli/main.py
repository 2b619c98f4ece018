"""Entry point: the typer app, global options, and the mapping of elkit errors to one-line messages."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import typer
from rich.console import Console

from elkit import __version__
from elkit.errors import ElkitError

__all__ = ["app", "main"]

app = typer.Typer(
    name="elkit",
    help="Find named entities in text and ground them in a knowledge base.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
error_console = Console(stderr=True)
_state = {"verbose": False}


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
) -> None:
    """Find named entities in text and ground them in a knowledge base."""
    _state["verbose"] = verbose


def _register_commands() -> None:
    from elkit.cli import annotate, corpus, kb, link, package, run, train  # noqa: F401 - the modules add their commands to ``app``


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (elkit errors give their class's code, bugs 70).

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.
    """
    _register_commands()
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
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
        if _state["verbose"] or "--verbose" in arguments or "-v" in arguments:
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
