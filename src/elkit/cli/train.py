"""``elkit train``, ``elkit evaluate`` and ``elkit vectors distill``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from elkit.cli.app import error_console
from elkit.cli.common import gpu_device, gpu_id_option, parse_overrides, raw_docs, read_docs
from elkit.cli.material import training_material
from elkit.doc import Doc
from elkit.errors import DataError
from elkit.evaluation import evaluate_ner
from elkit.evaluation.linker import LinkerEvaluation, evaluate_linker
from elkit.packaging import load
from elkit.threads import set_threads

__all__ = ["distill", "evaluate", "train_command"]


def train_command(
    config: Path = typer.Argument(..., help="Pipeline config (.toml) with a [training] section."),
    train_path: Path | None = typer.Option(None, "--train",
                                           help="Training corpus (CoNLL, JSONL, PubTator, AIDA, DocBin)."),
    dev_path: Path | None = typer.Option(None, "--dev",
                                         help="Development corpus (default with --dataset: split off the data). "
                                         "NER keeps its best model on it; the entity linker only reports it, "
                                         "choosing on held-out training documents."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for model-best, model-last, training.json."),
    base_model: Path | None = typer.Option(None, "--base-model", help="Continue from this trained pipeline; it is "
                                           "scored on dev first and stays model-best unless a step beats it."),
    rehearse: Path | None = typer.Option(None, "--rehearse", help="With --base-model: raw texts (.txt, one a line, "
                                         "JSONL with 'text', or any corpus; labels ignored) to rehearse the base "
                                         "model's own predictions on after every step, against forgetting."),
    format: str | None = typer.Option(None, "--format", help="Corpus format (detected when left out)."),
    override: list[str] = typer.Option([], "--set", help="Config override, e.g. --set training.max_epochs=5"),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad corpus records."),
    datasets: list[str] = typer.Option([], "--dataset",
                                       help="Annotation datasets to train on (repeat or comma separate)."),
    binary: bool = typer.Option(False, "--binary", help="With --dataset: learn from accept / reject answers too."),
    eval_split: float = typer.Option(0.2, "--eval-split", min=0.05, max=0.9,
                                     help="With --dataset and no --dev: the share held out for evaluation."),
    db: str | None = typer.Option(None, "--db", help="Annotation database (SQLAlchemy URL or SQLite file)."),
    threads: int | None = typer.Option(None, "--threads", min=1,
                                       help="CPU threads for torch (default: one per core)."),
    gpu_id: int | None = gpu_id_option(),
) -> None:
    """Train a pipeline on a corpus or annotation datasets, keeping the best model (seeded).

    NER keeps the checkpoint with the best dev F1; an entity linker chooses its epoch and NIL offset on
    ``[training] held_out_share`` of the training documents and scores dev once at the end.
    """
    from elkit.config import load_config
    from elkit.devices import resolve_device
    from elkit.training import train

    set_threads(threads)
    overrides = parse_overrides(override)
    device = gpu_device(gpu_id)
    if device is not None:
        overrides["nlp.device"] = device
    settings = load_config(config, overrides)
    resolve_device(settings.nlp.device)  # a device this machine lacks fails here, before the data is read
    train_docs, dev_docs = training_material(datasets, train_path, dev_path, binary, eval_split, db,
                                             format=format, lenient=lenient)
    if any(component.factory == "elkit.EntityLinker.v1" for component in settings.components.values()):
        from elkit.linking.training import train_linking

        _, linking = train_linking(settings, [item for item in train_docs if isinstance(item, Doc)], dev_docs,
                                   output, console=error_console)
        record = next((item for item in reversed(linking.history) if "dev_accuracy" in item), {})
        typer.echo(f"best model: {output / 'model-best'} (epoch {linking.best_epoch}, chosen on held-out training "
                   f"documents: accuracy {linking.best_accuracy:.4f})")
        typer.echo(f"training time: {linking.seconds / 60:.1f} min")
        for key in ("accuracy", "in_kb_accuracy", "nil_precision", "nil_recall"):
            if f"dev_{key}" in record:
                typer.echo(f"{key}: {record[f'dev_{key}']:.4f}")
        return
    rehearse_docs = raw_docs(rehearse, lenient) if rehearse is not None else None
    _, result = train(settings, train_docs, dev_docs, output, console=error_console, base_model=base_model,
                      rehearse_docs=rehearse_docs)
    best = max(result.history, key=lambda record: record["ents_f"])
    typer.echo(f"best model: {output / 'model-best'} (step {result.best_step:,})")
    typer.echo(f"training time: {result.seconds / 60:.1f} min, {result.steps:,} steps")
    typer.echo(f"ents_p: {best['ents_p']:.4f}")
    typer.echo(f"ents_r: {best['ents_r']:.4f}")
    typer.echo(f"ents_f: {best['ents_f']:.4f}")


def evaluate(
    model: Path = typer.Argument(..., help="A trained pipeline directory (or installed model package name)."),
    data: Path = typer.Argument(..., help="Gold corpus (CoNLL, JSONL, PubTator, AIDA, DocBin)."),
    format: str | None = typer.Option(None, "--format", help="Corpus format (detected when left out)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the scores as JSON here."),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="Documents per batch."),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad corpus records."),
    threads: int | None = typer.Option(None, "--threads", min=1,
                                       help="CPU threads for torch (default: one per core)."),
    gpu_id: int | None = gpu_id_option(),
) -> None:
    """Score a pipeline against a gold corpus: entities, or linking for a pipeline with an entity linker.

    Entities: P / R / F1 per label and words/s. Linking: in-KB accuracy, NIL P / R and candidate recall@k on the
    gold mentions, and end-to-end P / R / F1 of (span, id) when the pipeline also finds the mentions.
    """
    set_threads(threads)
    nlp = load(model, device=gpu_device(gpu_id))
    gold = read_docs(data, format, lenient)
    from elkit.linking import is_linker

    linkers = [component for _, component in nlp.components if is_linker(component)]
    if linkers:
        _print_linking(evaluate_linker(nlp, linkers[-1], gold, batch_size=batch_size), output)
        return
    scores = evaluate_ner(nlp, gold, batch_size=batch_size)
    typer.echo(f"{'label':<12} {'P':>7} {'R':>7} {'F':>7} {'support':>8}")
    for label, values in scores.per_label.items():
        typer.echo(f"{label:<12} {values['p']:7.4f} {values['r']:7.4f} {values['f']:7.4f} {scores.gold[label]:8,}")
    overall = scores.overall
    typer.echo(f"{'overall':<12} {overall['p']:7.4f} {overall['r']:7.4f} {overall['f']:7.4f} "
               f"{sum(scores.gold.values()):8,}")
    typer.echo(f"words: {scores.words:,} in {scores.seconds:.2f} s ({scores.words_per_second:,.0f} words/s)")
    if output is not None:
        output.write_text(json.dumps(scores.to_dict(), indent=2), encoding="utf-8")
        typer.echo(f"wrote {output}")
    typer.echo(f"ents_p: {overall['p']:.4f}")
    typer.echo(f"ents_r: {overall['r']:.4f}")
    typer.echo(f"ents_f: {overall['f']:.4f}")


def distill(
    output: Path = typer.Argument(..., help="Folder to write words.txt and vectors.safetensors to."),
    corpus: list[Path] = typer.Option([], "--corpus", help="Corpus whose words get vectors (repeatable)."),
    words_file: list[Path] = typer.Option([], "--words", help="A file of words, one a line (repeatable)."),
    model: Path | None = typer.Option(None, "--model", help="Local Hugging Face model (default: all-MiniLM-L6-v2)."),
    model_vocabulary: bool = typer.Option(True, "--model-vocabulary/--no-model-vocabulary",
                                          help="Also give every whole word of the model's vocabulary a vector."),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad corpus records."),
) -> None:
    """Distil context-free word vectors from a transformer, for the fast encoder's ``vectors`` setting."""
    from elkit.encoders.vectors import distill_vectors, gather_words, save_vectors

    words = gather_words(corpus, words_file, model, model_vocabulary, lenient=lenient)
    if not words:
        raise DataError("no words: give --corpus or --words, or keep --model-vocabulary")
    vocabulary, matrix = distill_vectors(words, model)
    save_vectors(output, vocabulary, matrix)
    typer.echo(f"wrote {len(vocabulary):,} vectors of width {matrix.shape[1]} to {output}")


def _print_linking(evaluation: LinkerEvaluation, output: Path | None) -> None:
    on_gold, end_to_end = evaluation.on_gold, evaluation.end_to_end
    typer.echo(f"gold mentions: {on_gold.linked_mentions:,} linked, {on_gold.nil_mentions:,} NIL "
               f"({on_gold.mentions_per_second:,.0f} mentions/s)")
    typer.echo("candidate recall@k: " + ", ".join(f"@{k} {value:.4f}" for k, value in on_gold.recall_at.items()))
    if output is not None:
        output.write_text(json.dumps(evaluation.to_dict(), indent=2), encoding="utf-8")
        typer.echo(f"wrote {output}")
    typer.echo(f"nil_precision: {on_gold.nil_precision:.4f}")
    typer.echo(f"nil_recall: {on_gold.nil_recall:.4f}")
    typer.echo(f"in_kb_accuracy_no_nil: {on_gold.accuracy_no_nil:.4f}")
    typer.echo(f"in_kb_accuracy: {on_gold.accuracy:.4f}")
    if end_to_end is not None:
        typer.echo(f"e2e_p: {end_to_end.e2e_precision:.4f}")
        typer.echo(f"e2e_r: {end_to_end.e2e_recall:.4f}")
        typer.echo(f"e2e_f: {end_to_end.e2e_f:.4f}")
