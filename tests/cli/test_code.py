"""``--code FILE``: a custom component registered in a Python file is found by every command that loads it."""

import json
import subprocess
import sys
import textwrap

import pytest

from elkit.cli.common import take_code_options
from elkit.errors import ConfigError
from elkit.registry import import_code

COMPONENT = textwrap.dedent('''
    import json
    from elkit.batching import BatchedComponent
    from elkit.doc import Span
    from elkit.registry import factories
    from elkit.settings import Settings


    class ShoutSettings(Settings):
        label: str = "SHOUT"


    class Shout(BatchedComponent):
        """Marks every all-capital word."""

        def __init__(self, name, settings):
            self.name, self.settings = name, settings

        @property
        def config(self):
            return self.settings.to_config()

        def __call__(self, doc):
            doc.ents = [Span(doc, index, index + 1, self.settings.label) for index, word in enumerate(doc.words)
                        if word.isupper() and len(word) > 1]
            return doc

        def to_bytes(self):
            return b"{}"

        def from_bytes(self, data):
            return self

        def to_disk(self, path):
            path.mkdir(parents=True, exist_ok=True)

        def from_disk(self, path):
            return self


    @factories.register("test.Shout.v1", settings=ShoutSettings)
    def make_shout(name, settings):
        return Shout(name, settings)
''')

SAVE = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import shout  # registers test.Shout.v1
    from elkit.pipeline import Pipeline
    nlp = Pipeline()
    nlp.add_pipe("test.Shout.v1", name="shout", config={"label": "LOUD"})
    nlp.to_disk(sys.argv[2])
''')


def elkit(*arguments, cwd):
    return subprocess.run([sys.executable, "-m", "elkit", *map(str, arguments)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_a_pipeline_with_a_custom_component_runs_with_code(tmp_path):
    (tmp_path / "shout.py").write_text(COMPONENT, encoding="utf-8")
    subprocess.run([sys.executable, "-c", SAVE, str(tmp_path), str(tmp_path / "model")], check=True, timeout=300)
    texts = tmp_path / "texts.jsonl"
    texts.write_text(json.dumps({"text": "the BBC met NASA today"}) + "\n", encoding="utf-8")
    without = elkit("apply", tmp_path / "model", texts, tmp_path / "out.jsonl", cwd=tmp_path)
    assert without.returncode != 0 and "test.Shout.v1" in without.stderr
    for arguments in (["apply", tmp_path / "model", texts, tmp_path / "out.jsonl", "--code", tmp_path / "shout.py"],
                      [f"--code={tmp_path / 'shout.py'}", "apply", tmp_path / "model", texts, tmp_path / "out.jsonl"]):
        done = elkit(*arguments, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        record = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
        assert [(span["label"], record["text"][span["start"]:span["end"]]) for span in record["spans"]] == \
            [("LOUD", "BBC"), ("LOUD", "NASA")]


def test_code_option_errors(tmp_path):
    assert take_code_options(["apply", "--code", "a.py", "m", "--code=b.py", "--", "--code"]) == \
        (["a.py", "b.py"], ["apply", "m", "--", "--code"])
    with pytest.raises(ConfigError, match="needs a Python file"):
        take_code_options(["apply", "--code"])
    with pytest.raises(ConfigError, match="no such file"):
        import_code(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('oops')\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.py: importing it failed: RuntimeError: oops"):
        import_code(broken)
