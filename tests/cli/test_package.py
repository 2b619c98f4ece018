"""``elkit package`` and ``elkit.packaging``: build a model package offline, install it, load it by name."""

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

import elkit
from elkit.cli import main
from elkit.errors import ConfigError, ModelError
from elkit.packaging import load_installed_package, load_model_directory, package, validate_name, validate_version
from elkit.pipeline import Pipeline

SOURCE = Path(elkit.__file__).resolve().parent.parent


def run(capsys, *arguments):
    code = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def model_dir(tmp_path):
    nlp = Pipeline()
    nlp.add_pipe("elkit.Sentencizer.v1")
    path = tmp_path / "model"
    nlp.to_disk(path)
    return path


def build(capsys, model_dir, output, *options):
    return run(capsys, "package", model_dir, output, "--name", "en_demo", "--version", "1.0.0", *options)


def test_cli_builds_sdist_and_wheel(tmp_path, model_dir, capsys):
    output = tmp_path / "packages"
    code, out, err = build(capsys, model_dir, output, "--description", "A demo.", "--author", "Ada", "-r", "numpy>=1")
    assert code == 0, err
    folder = output / "en_demo-1.0.0"
    sdist = folder / "dist" / "en_demo-1.0.0.tar.gz"
    wheel = folder / "dist" / "en_demo-1.0.0-py3-none-any.whl"
    assert sdist.is_file() and wheel.is_file()
    assert str(sdist) in out and str(wheel) in out and "building the wheel" in err
    assert sorted(path.name for path in folder.iterdir()) == ["README.md", "dist", "en_demo", "pyproject.toml"]

    meta = json.loads((folder / "en_demo" / "meta.json").read_text(encoding="utf-8"))
    assert meta["name"] == "en_demo" and meta["version"] == "1.0.0" and meta["elkit_version"] == elkit.__version__
    assert meta["pipeline"] == ["sentencizer"] and meta["manifest"]["pipeline"][0]["factory"] == "elkit.Sentencizer.v1"
    assert meta["requirements"][1] == "numpy>=1" and meta["requirements"][0].startswith("elkit>=")

    model_files = {"manifest.json", "config.toml", "sentencizer/config.json", "tokenizer/elkit-keep"}
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read("en_demo-1.0.0.dist-info/METADATA").decode("utf-8")
    assert {f"en_demo/model/{name}" for name in model_files} | {"en_demo/__init__.py", "en_demo/meta.json"} <= names
    assert "Requires-Dist: elkit<" in metadata or "Requires-Dist: elkit>=" in metadata
    assert "Summary: A demo." in metadata and "Ada" in metadata
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    assert {f"en_demo-1.0.0/en_demo/model/{name}" for name in model_files} <= names
    assert "en_demo-1.0.0/pyproject.toml" in names


def _venv_with_elkit(root: Path) -> Path:
    """A venv without pip whose site-packages sees this environment's packages (pip and elkit included)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "elkit-parent.pth").write_text(f"{SOURCE}\nimport site; site.addsitedir({parent!r})\n")
    return python


def test_installed_wheel_loads_by_name(tmp_path, model_dir):
    wheel, *_ = package(model_dir, tmp_path / "packages", name="en-demo", version="0.2", build=["wheel"])
    assert wheel.name == "en_demo-0.2-py3-none-any.whl"
    python = _venv_with_elkit(tmp_path / "venv")
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    install = [python, "-m", "pip", "install", "--no-deps", "--no-index", "--no-cache-dir", "--quiet"]
    subprocess.run([*install, "--disable-pip-version-check", str(wheel)], check=True, env=environment)
    script = textwrap.dedent(
        """
        import elkit, en_demo
        nlp = elkit.load("en-demo")
        print(nlp.pipe_names)
        print([sentence.text for sentence in nlp("Hello there. Goodbye now.").sents])
        print(en_demo.__version__, en_demo.MODEL_PATH.is_dir(), "site-packages" in str(en_demo.MODEL_PATH))
        print(en_demo.load(exclude=["sentencizer"]).pipe_names)
        """
    )
    result = subprocess.run(
        [python, "-c", script], cwd=tmp_path, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['sentencizer']",
        "['Hello there.', 'Goodbye now.']",
        "0.2 True True",
        "[]",
    ]


def test_build_choices_and_force(tmp_path, model_dir, capsys):
    output = tmp_path / "packages"
    code, out, _ = build(capsys, model_dir, output, "--build", "none")
    assert code == 0 and "nothing built" in out
    assert (output / "en_demo-1.0.0" / "pyproject.toml").is_file()
    assert not (output / "en_demo-1.0.0" / "dist").exists()

    code, _, err = build(capsys, model_dir, output, "--build", "wheel")
    assert code == 2 and "already exists" in err and "--force" in err
    code, _, err = build(capsys, model_dir, output, "--build", "wheel", "--force")
    assert code == 0, err
    assert [path.name for path in (output / "en_demo-1.0.0" / "dist").iterdir()] == ["en_demo-1.0.0-py3-none-any.whl"]
    assert not list(output.glob("*.partial"))

    code, _, err = build(capsys, model_dir, output, "--build", "egg")
    assert code == 2 and "unknown build format" in err


def test_force_refuses_a_folder_that_is_not_a_package(tmp_path, model_dir):
    (tmp_path / "out" / "en_demo-1.0.0").mkdir(parents=True)
    with pytest.raises(ConfigError, match="not an elkit model package"):
        package(model_dir, tmp_path / "out", name="en_demo", version="1.0.0", force=True, build=())


def test_not_a_model_dir(tmp_path, capsys):
    code, _, err = run(capsys, "package", tmp_path, tmp_path / "out", "--name", "demo", "--version", "1")
    assert code == 5 and "no manifest.json" in err and "not a pipeline folder" in err
    code, _, err = run(capsys, "package", tmp_path / "missing", tmp_path / "out", "--name", "demo", "--version", "1")
    assert code == 5 and "not a directory" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["-demo", "demo-", "de mo", "dé", "1demo", "json", "elkit", "en.demo", "class"])
def test_bad_name(tmp_path, model_dir, capsys, name):
    code, _, err = run(capsys, "package", model_dir, tmp_path / "out", "--name", name, "--version", "1.0")
    assert code == 2 and f"package name {name!r}" in err
    assert not (tmp_path / "out").exists()


def test_bad_version_and_requirement(tmp_path, model_dir, capsys):
    code, _, err = run(capsys, "package", model_dir, tmp_path / "out", "--name", "demo", "--version", "one")
    assert code == 2 and "not a PEP 440 version" in err
    code, _, err = run(
        capsys, "package", model_dir, tmp_path / "out", "--name", "demo", "--version", "1", "-r", "numpy>>1"
    )
    assert code == 2 and "not a valid PEP 508 requirement" in err


def test_names_and_versions():
    assert validate_name("en-core_web-sm") == "en_core_web_sm"
    assert validate_version("1.0.0-rc1") == "1.0.0rc1"
    assert validate_version("v2") == "2"


def test_requirement_naming_elkit_replaces_the_default(tmp_path, model_dir):
    package(model_dir, tmp_path, name="demo", version="1", requirements=["elkit==0.1.0"], build=())
    project = (tmp_path / "demo-1" / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dependencies = [\n    "elkit==0.1.0",\n]' in project


def test_output_inside_the_model_is_refused(model_dir):
    with pytest.raises(ConfigError, match="must not be inside the model folder"):
        package(model_dir, model_dir / "out", name="demo", version="1", build=())


def test_help_is_accurate(capsys):
    code, out, _ = run(capsys, "package", "--help")
    assert code == 0
    for option in ("MODEL_DIR", "OUTPUT_DIR", "--name", "--version", "--description", "--author", "--requirement",
                   "--force", "--build"):
        assert option in out
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "package" in out


def test_load_by_name_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="neither a path nor an installed elkit model package"):
        elkit.load("no_such_elkit_model")
    with pytest.raises(ModelError, match="is installed but is not an elkit model package"):
        elkit.load("json")
    with pytest.raises(ModelError, match="not a pipeline directory"):
        elkit.load("missing/folder")
    with pytest.raises(ModelError, match="neither a path nor an installed"):
        load_installed_package("no-such-elkit-model")


def test_load_model_directory_overrides(model_dir):
    assert load_model_directory(model_dir).pipe_names == ["sentencizer"]
    nlp = load_model_directory(model_dir, exclude=["sentencizer"], max_length=10)
    assert nlp.pipe_names == [] and nlp.max_length == 10
    with pytest.raises(ConfigError, match="cannot exclude 'parser'"):
        load_model_directory(model_dir, exclude=["parser"])
