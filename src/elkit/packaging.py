"""Model packages: a saved pipeline turned into an installable Python package (sdist and wheel).

``package`` writes ``OUTPUT/NAME-VERSION/`` with a ``pyproject.toml`` (setuptools), the module ``NAME`` (the model
folder, ``meta.json`` and a ``load()`` function) and a README, then builds the sdist and the wheel into its
``dist/`` folder without network access. Once the wheel is installed with pip, ``elkit.load("NAME")`` imports the
module and calls its ``load()``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import keyword
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from glob import escape
from pathlib import Path
from typing import Any

import tomli_w
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from elkit.errors import ConfigError, ModelError
from elkit.io import MANIFEST_NAME, read_manifest
from elkit.pipeline.pipeline import Pipeline

__all__ = [
    "BUILD_FORMATS",
    "META_NAME",
    "MODEL_FOLDER",
    "import_name",
    "is_package_name",
    "load_installed_package",
    "load_model_directory",
    "package",
    "validate_name",
    "validate_version",
]

BUILD_FORMATS = ("sdist", "wheel")
"""What ``package`` can build, in the order it builds them."""
MODEL_FOLDER = "model"
"""The pipeline folder's name inside the package's module."""
META_NAME = "meta.json"
"""The file beside the model folder: name, version, elkit version, components and the model's manifest."""
_KEEP_NAME = "elkit-keep"
_BUILT_MARKER = "elkit-built:"
_NAME_PATTERN = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_BUILD_SCRIPT = (
    "import sys\n"
    "from setuptools import build_meta\n"
    "built = getattr(build_meta, 'build_' + sys.argv[1])(sys.argv[2])\n"
    f"print({_BUILT_MARKER!r} + built)\n"
)


# --- names --------------------------------------------------------------------------------------------------


def import_name(name: str) -> str:
    """The module a package name installs: the name with '-' replaced by '_' ("en-demo" → "en_demo")."""
    return name.replace("-", "_")


def is_package_name(text: str) -> bool:
    """Whether ``text`` could name an elkit model package (a distribution name whose module name is valid)."""
    module = import_name(text)
    return bool(_NAME_PATTERN.match(text)) and module.isidentifier() and not keyword.iskeyword(module)


def validate_name(name: str) -> str:
    """Check a package name and return its module name.

    Raises:
        ConfigError: Not a valid distribution name, a module name that is not a Python identifier, or a name
            that would hide elkit or a standard-library module.
    """
    if not _NAME_PATTERN.match(name):
        raise ConfigError(
            f"package name {name!r} is not a valid distribution name: use letters, digits, '-' and '_', "
            "starting and ending with a letter or digit"
        )
    module = import_name(name)
    if not module.isidentifier() or keyword.iskeyword(module):
        raise ConfigError(f"package name {name!r} gives the module name {module!r}, which is not a Python identifier")
    if module.lower() == "elkit" or module in sys.stdlib_module_names:
        raise ConfigError(f"package name {name!r} would hide the module {module!r}: choose another name")
    return module


def validate_version(version: str) -> str:
    """Check a PEP 440 version and return it normalised ("1.0.0-rc1" → "1.0.0rc1").

    Raises:
        ConfigError: Not a PEP 440 version.
    """
    try:
        return str(Version(version))
    except InvalidVersion:
        raise ConfigError(f"version {version!r} is not a PEP 440 version (such as 1.0.0 or 0.2.1rc1)") from None


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ConfigError(f"requirement {requirement!r} does not start with a package name")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _check_requirements(requirements: Iterable[str]) -> list[str]:
    checked = [requirement.strip() for requirement in requirements if requirement.strip()]
    for requirement in checked:
        try:
            Requirement(requirement)
        except InvalidRequirement as error:
            raise ConfigError(f"requirement {requirement!r} is not a valid PEP 508 requirement: {error}") from None
    return checked


def _elkit_requirement() -> str:
    """``elkit>=MAJOR.MINOR,<MAJOR.MINOR+1``: the saved format may change between minor versions."""
    from elkit import __version__

    numbers = [int(part) for part in re.findall(r"\d+", __version__)[:2]] + [0, 0]
    major, minor = numbers[0], numbers[1]
    return f"elkit>={major}.{minor},<{major}.{minor + 1}"


# --- loading ------------------------------------------------------------------------------------------------


def load(path: str | Path, *, device: str | None = None) -> Pipeline:
    """Load a pipeline from a saved directory, a TOML config file or an installed model package.

    A directory is one saved with ``Pipeline.to_disk``; a config builds an untrained pipeline; a name such as
    ``"en_demo"`` loads a model package built by ``elkit package`` and installed with pip.

    Args:
        path: The directory, config file or package name.
        device: Where the torch components run ("cpu", "cuda", "cuda:N"); None: a config's ``[nlp] device``,
            the CPU for a saved pipeline.

    Raises:
        ModelError: When ``path`` is none of these.
        ConfigError: A device this machine does not have.
    """
    target = Path(path)
    if target.is_dir():
        return Pipeline.from_disk(target, device=device)
    if target.is_file() and target.suffix == ".toml":
        return Pipeline.from_config(target, device=device)
    if not target.exists() and str(path) == target.name and is_package_name(target.name):
        nlp = load_installed_package(target.name)
        return nlp if device is None else nlp.to_device(device)
    raise ModelError(
        f"{path}: not a pipeline directory (with {MANIFEST_NAME}), a .toml config file "
        "or the name of an installed elkit model package"
    )


def load_model_directory(path: str | Path, *, exclude: Iterable[str] = (), max_length: int | None = None) -> Pipeline:
    """Load the pipeline folder of a model package; its module's ``load(**overrides)`` calls this.

    Args:
        path: The pipeline folder (``MODEL_PATH`` of the package).
        exclude: Names of components to leave out of the loaded pipeline.
        max_length: Longest text accepted, in characters, instead of the saved value.

    Raises:
        ModelError: A missing or inconsistent folder.
        ConfigError: ``exclude`` names a component the pipeline does not have.
    """
    nlp = Pipeline.from_disk(path)
    for name in [exclude] if isinstance(exclude, str) else exclude:
        if not nlp.has_pipe(name):
            raise ConfigError(f"cannot exclude {name!r}: the pipeline has {nlp.pipe_names}")
        nlp.remove_pipe(name)
    if max_length is not None:
        nlp.max_length = max_length
    return nlp


def load_installed_package(name: str) -> Pipeline:
    """Import the installed model package ``name`` (built by ``package``) and return its ``load()``.

    Raises:
        ModelError: When no such package is installed, or the module of that name is not an elkit model package.
    """
    module_name = import_name(name)
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ModelError(
            f"{name}: neither a path nor an installed elkit model package "
            f"(no directory or file of that name, and no module {module_name!r} to import)"
        )
    locations = list(spec.submodule_search_locations or [])
    if not any((Path(location) / META_NAME).is_file() for location in locations):
        raise ModelError(f"{name}: the module {module_name!r} is installed but is not an elkit model package")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ModelError(f"{name}: the model package failed to import: {error}") from error
    loader = getattr(module, "load", None)
    if not callable(loader):
        raise ModelError(f"{name}: the model package {module_name!r} has no load() function")
    nlp = loader()
    if not isinstance(nlp, Pipeline):
        raise ModelError(f"{name}: load() of the model package returned {type(nlp).__name__}, not a Pipeline")
    return nlp


# --- building -----------------------------------------------------------------------------------------------


def package(
    model_dir: str | Path,
    output_dir: str | Path,
    *,
    name: str,
    version: str,
    description: str | None = None,
    author: str | None = None,
    requirements: Sequence[str] | None = None,
    force: bool = False,
    build: Sequence[str] = BUILD_FORMATS,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    """Turn a saved pipeline folder into an installable package and build its sdist and wheel, offline.

    Writes ``output_dir/NAME-VERSION/`` (``pyproject.toml``, ``README.md``, the module ``NAME/`` holding the
    model folder, ``meta.json`` and ``load()``), then builds into its ``dist/`` folder with setuptools in a
    subprocess of this interpreter: no network, no build isolation. The folder is written beside its final place
    and moved there once every build succeeded.

    Args:
        model_dir: A folder saved with ``Pipeline.to_disk``.
        output_dir: Where the package folder is created (made when missing).
        name: The distribution name ("en_demo"); the module name is the same with '-' replaced by '_'.
        version: The package's PEP 440 version.
        description: One line for the package metadata; a default naming the pipeline when None.
        author: The author recorded in the metadata.
        requirements: Further PEP 508 requirements; one naming elkit replaces the default elkit requirement.
        force: Replace an existing package folder of the same name and version.
        build: Which of "sdist" and "wheel" to build; empty to write the package folder only.
        report: Called with a short message before each step (for a progress display).

    Returns:
        The built files, in the order of ``BUILD_FORMATS``.

    Raises:
        ModelError: ``model_dir`` is not a pipeline folder, or a build failed.
        ConfigError: A bad name, version, requirement or build format, or an existing output without ``force``.
    """
    from elkit import __version__

    step = report or (lambda message: None)
    source = Path(model_dir)
    manifest = _check_model_dir(source)
    module = validate_name(name)
    version = validate_version(version)
    extra = _check_requirements(requirements or [])
    formats = _check_formats(build)
    if any(_requirement_name(requirement) == "elkit" for requirement in extra):
        dependencies = extra
    else:
        dependencies = [_elkit_requirement(), *extra]
    pipe_names = [entry.get("name") for entry in manifest.get("pipeline", [])]
    default_description = f"elkit pipeline {name}: {', '.join(pipe_names) or 'tokenizer only'}"
    description = " ".join((description or "").split()) or default_description

    target = Path(output_dir) / f"{name}-{version}"
    if source.resolve() == target.resolve() or target.resolve().is_relative_to(source.resolve()):
        raise ConfigError(f"{target}: the output must not be inside the model folder {source}")
    _check_target(target, module, force)
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        step(f"copying the pipeline folder {source}")
        package_dir = partial / module
        shutil.copytree(source, package_dir / MODEL_FOLDER, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _mark_empty_folders(package_dir / MODEL_FOLDER)
        meta = {
            "name": name,
            "version": version,
            "description": description,
            "author": author,
            "elkit_version": __version__,
            "requirements": dependencies,
            "lang": manifest.get("lang"),
            "pipeline": pipe_names,
            "manifest": manifest,
        }
        (package_dir / META_NAME).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (package_dir / "__init__.py").write_text(_init_source(name, version), encoding="utf-8")
        step("writing pyproject.toml and README.md")
        model_files = (path for path in (package_dir / MODEL_FOLDER).rglob("*") if path.is_file())
        data_files = [META_NAME, *sorted(escape(path.relative_to(package_dir).as_posix()) for path in model_files)]
        project = _pyproject(name, version, description, author, dependencies, module, data_files)
        (partial / "pyproject.toml").write_text(tomli_w.dumps(project), encoding="utf-8")
        (partial / "README.md").write_text(_readme(name, version, description, meta), encoding="utf-8")
        built = [_build(partial, kind, step) for kind in formats]
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    return [target / "dist" / path.name for path in built]


def _check_model_dir(source: Path) -> dict[str, Any]:
    if not source.is_dir():
        raise ModelError(f"{source}: not a directory (give a pipeline folder saved with Pipeline.to_disk)")
    if not (source / MANIFEST_NAME).is_file():
        raise ModelError(f"{source}: not a pipeline folder: it has no {MANIFEST_NAME} (save one with Pipeline.to_disk)")
    manifest = read_manifest(source / MANIFEST_NAME)
    pipeline = manifest.get("pipeline")
    if not isinstance(pipeline, list) or not all(isinstance(entry, dict) and "name" in entry for entry in pipeline):
        raise ModelError(f"{source}: {MANIFEST_NAME} has no valid 'pipeline' list: not a pipeline folder")
    config = manifest.get("config", "config.toml")
    if not (source / config).is_file():
        raise ModelError(f"{source}: the config {config} named by {MANIFEST_NAME} is missing")
    for entry in pipeline:
        if not (source / str(entry["name"])).is_dir():
            raise ModelError(f"{source}: missing the folder of component {entry['name']!r}")
    return manifest


def _check_formats(build: Sequence[str]) -> list[str]:
    formats = [build] if isinstance(build, str) else list(build)
    unknown = [kind for kind in formats if kind not in BUILD_FORMATS]
    if unknown:
        raise ConfigError(f"unknown build format(s) {unknown}: choose from {list(BUILD_FORMATS)}")
    return [kind for kind in BUILD_FORMATS if kind in formats]


def _check_target(target: Path, module: str, force: bool) -> None:
    if not target.exists():
        return
    if not force:
        raise ConfigError(f"{target}: already exists (pass force=True / --force to replace it)")
    if not ((target / "pyproject.toml").is_file() and (target / module / META_NAME).is_file()):
        raise ConfigError(f"{target}: exists and is not an elkit model package; refusing to replace it")


def _mark_empty_folders(folder: Path) -> None:
    """Put a small file in every empty folder: wheels hold files only, and loading expects the folders."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            (path / _KEEP_NAME).write_text("Keeps this folder in the package.\n", encoding="utf-8")
    if not any(folder.iterdir()):
        (folder / _KEEP_NAME).write_text("Keeps this folder in the package.\n", encoding="utf-8")


def _pyproject(
    name: str,
    version: str,
    description: str,
    author: str | None,
    dependencies: list[str],
    module: str,
    data_files: list[str],
) -> dict[str, Any]:
    project: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": description,
        "readme": "README.md",
        "requires-python": ">=3.11",
        "dependencies": dependencies,
    }
    if author:
        project["authors"] = [{"name": author}]
    return {
        "build-system": {"requires": ["setuptools>=69"], "build-backend": "setuptools.build_meta"},
        "project": project,
        "tool": {
            "setuptools": {
                "packages": [module],
                "include-package-data": False,
                "package-data": {module: data_files},
            }
        },
    }


def _init_source(name: str, version: str) -> str:
    return f'''"""The elkit model package {name} {version}: ``elkit.load("{name}")`` or ``load()`` below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from elkit.packaging import load_model_directory
from elkit.pipeline import Pipeline

__all__ = ["META", "MODEL_PATH", "__version__", "load"]

MODEL_PATH: Path = Path(__file__).parent / "{MODEL_FOLDER}"
"""The pipeline folder inside this package."""
META: dict[str, Any] = json.loads((Path(__file__).parent / "{META_NAME}").read_text(encoding="utf-8"))
"""Name, version, elkit version, components and the model's manifest."""
__version__: str = META["version"]


def load(**overrides: Any) -> Pipeline:
    """Load the pipeline.

    Args:
        **overrides: Passed to ``elkit.packaging.load_model_directory``: ``exclude`` (component names to leave
            out) and ``max_length``.
    """
    return load_model_directory(MODEL_PATH, **overrides)
'''


def _readme(name: str, version: str, description: str, meta: dict[str, Any]) -> str:
    components = "\n".join(
        f"- `{entry.get('name')}` ({entry.get('factory', '?')})" for entry in meta["manifest"].get("pipeline", [])
    )
    return f"""# {name} {version}

{description}

An elkit model package, built with `elkit package` by elkit {meta["elkit_version"]}.

- language: {meta["lang"] or "unknown"}
- requirements: {", ".join(meta["requirements"])}

## Components

{components or "- none (tokenizer only)"}

## Use

```bash
pip install dist/*.whl   # or dist/*.tar.gz
```

```python
import elkit

nlp = elkit.load("{name}")
doc = nlp("Some text.")
```
"""


def _build(project_dir: Path, kind: str, step: Callable[[str], None]) -> Path:
    """Build one distribution of ``project_dir`` into its ``dist/`` with setuptools' PEP 517 hooks, offline."""
    if importlib.util.find_spec("setuptools") is None:
        raise ModelError("building a model package needs setuptools in this environment (pip install setuptools)")
    step(f"building the {kind}")
    dist = project_dir / "dist"
    dist.mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", _BUILD_SCRIPT, kind, str(dist.resolve())],
        cwd=project_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    built = [line[len(_BUILT_MARKER) :] for line in result.stdout.splitlines() if line.startswith(_BUILT_MARKER)]
    if result.returncode != 0 or not built:
        log = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise ModelError(f"building the {kind} of {project_dir.name} failed (exit {result.returncode}):\n{log}")
    for leftover in [project_dir / "build", *project_dir.glob("*.egg-info")]:
        shutil.rmtree(leftover, ignore_errors=True)
    return dist / built[-1].strip()
