"""The recipes by name (`RECIPES`, `build_recipe`) and the recipes' source reading."""

import json

import pytest

from elkit.annotate import Store
from elkit.annotate.recipes import RECIPES, RecipeOptions, build_recipe, read_source
from elkit.cli.main import main
from elkit.errors import ConfigError
from elkit.tokenize import Tokenizer


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("Ada Lovelace lived in London.\nParis is in France.\n", encoding="utf-8")
    return path


def test_the_table_names_every_recipe():
    assert list(RECIPES) == ["ner.manual", "ner.correct", "ner.teach", "el.manual", "review"]


def test_build_recipe_configures_by_name(source):
    recipe = build_recipe("ner.manual", RecipeOptions("news", str(source), labels=("PER", "LOC")))
    assert (recipe.name, recipe.view, recipe.dataset, recipe.labels, recipe.total) == \
        ("ner.manual", "spans", "news", ("PER", "LOC"), 2)
    assert [task["text"] for task in recipe.stream()] == ["Ada Lovelace lived in London.", "Paris is in France."]


def test_an_unknown_recipe_lists_the_known_ones(source):
    with pytest.raises(ConfigError, match=r"unknown recipe 'ner\.nope' \(recipes: ner\.manual, ner\.correct"):
        build_recipe("ner.nope", RecipeOptions("news", str(source)))


@pytest.mark.parametrize("name", ["ner.correct", "ner.teach"])
def test_model_recipes_need_a_model(name, source):
    with pytest.raises(ConfigError, match=f"{name} needs --model"):
        build_recipe(name, RecipeOptions("news", str(source)))


def test_review_reads_its_inputs_from_the_store(tmp_path):
    store = Store(str(tmp_path / "db.sqlite"))
    with pytest.raises(ConfigError, match="review: no dataset 'alice'"):
        build_recipe("review", RecipeOptions("final", "alice, bob", store=store))
    with pytest.raises(ConfigError, match="needs the answer store"):
        build_recipe("review", RecipeOptions("final", "alice"))


def test_the_command_line_looks_recipes_up_in_the_table(tmp_path, source, capsys):
    database = str(tmp_path / "db.sqlite")
    assert main(["annotate", "ner.teach", "news", str(source), "--db", database]) == 2
    assert "ner.teach needs --model" in capsys.readouterr().err
    assert main(["annotate", "ner.nope", "news", str(source), "--db", database]) == 2
    assert "unknown recipe 'ner.nope'" in capsys.readouterr().err


def test_a_source_is_jsonl_by_suffix_or_by_its_first_line(tmp_path):
    task = {"text": "Paris is big", "spans": [{"start": 0, "end": 5, "label": "LOC"}]}
    marked = tmp_path / "tasks.txt"
    marked.write_bytes(("\ufeff" + json.dumps(task) + "\n").encode())
    named = tmp_path / "tasks.jsonl"
    named.write_text(json.dumps(task) + "\n", encoding="utf-8")
    for path in (marked, named):
        [doc] = read_source(path, Tokenizer())
        assert [(span.text, span.label) for span in doc.ents] == [("Paris", "LOC")]
