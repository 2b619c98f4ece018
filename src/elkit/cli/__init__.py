"""The ``elkit`` command line: thin typer commands over plain functions."""

from elkit.cli.main import app, main

__all__ = ["app", "main"]
