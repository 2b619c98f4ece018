"""``elkit package``: turn a saved pipeline into an installable Python package (sdist and wheel)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from elkit.cli.app import error_console
from elkit.errors import ConfigError
from elkit.packaging import BUILD_FORMATS, package, validate_version

__all__ = ["package_command"]


def package_command(
    model_dir: Path = typer.Argument(
        ..., metavar="MODEL_DIR", help="A saved pipeline directory (Pipeline.to_disk, with manifest.json)."
    ),
    output_dir: Path = typer.Argument(
        ..., metavar="OUTPUT_DIR", help="Where to create the package folder NAME-VERSION (made when missing)."
    ),
    name: str = typer.Option(
        ..., "--name", "-n", help="Distribution name, such as en_demo; the module is the name with '-' → '_'."
    ),
    version: str = typer.Option(..., "--version", help="The package's PEP 440 version, such as 1.0.0."),
    description: str | None = typer.Option(None, "--description", help="One-line description for the metadata."),
    author: str | None = typer.Option(None, "--author", help="Author recorded in the metadata."),
    requirements: list[str] = typer.Option(
        [],
        "--requirement",
        "-r",
        help="A further PEP 508 requirement (repeatable); one naming elkit replaces the default elkit>=X.Y,<X.Y+1.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing OUTPUT_DIR/NAME-VERSION package folder."),
    build: str = typer.Option(
        ",".join(BUILD_FORMATS),
        "--build",
        help="What to build into NAME-VERSION/dist, comma-separated: sdist, wheel, or none (the folder only).",
    ),
) -> None:
    """Package a saved pipeline as an installable Python package, built offline with setuptools.

    After `pip install OUTPUT_DIR/NAME-VERSION/dist/<the wheel>`, `elkit.load("NAME")` loads the pipeline.
    """
    formats = [part.strip() for part in build.split(",") if part.strip()]
    if formats == ["none"]:
        formats = []
    elif not formats:
        raise ConfigError("--build needs sdist, wheel, both (sdist,wheel) or none")
    started = time.perf_counter()
    with error_console.status("packaging", spinner="dots") as status:

        def report(message: str) -> None:
            status.update(message)
            error_console.print(f"[dim]… {message}[/dim]")

        built = package(
            model_dir,
            output_dir,
            name=name,
            version=version,
            description=description,
            author=author,
            requirements=requirements,
            force=force,
            build=formats,
            report=report,
        )
    seconds = time.perf_counter() - started
    folder = output_dir / f"{name}-{validate_version(version)}"
    typer.echo(f"packaged {model_dir} as {name} in {folder} ({seconds:.1f} s)")
    for path in built:
        typer.echo(f"  {path}  {path.stat().st_size / 1e6:,.2f} MB")
    if built:
        wheels = [path for path in built if path.suffix == ".whl"]
        typer.echo(f"install with: pip install {wheels[0] if wheels else built[0]}")
    else:
        typer.echo("nothing built (--build none): the package folder is ready for any PEP 517 build tool")
