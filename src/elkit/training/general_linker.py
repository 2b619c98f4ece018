"""Training the general linker's scorer on annotated linking corpora, each against its own KB.

Every corpus is turned into examples by the linker's own stages (candidates, coreference, features), so the
scorer learns from exactly what it will read at prediction time. A share of the linked mentions has its gold
candidates taken away and NIL as the answer: that is how the scorer learns what a name missing from the KB looks
like. The best epoch and the temperature are chosen on held-out documents of the training corpora (never a dev
set that is reported).
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pydantic
import torch

from elkit.doc import NIL, Doc
from elkit.kb.base import KnowledgeBase
from elkit.linking.general import GeneralLinker
from elkit.linking.general_features import GENERAL_FEATURES, GENERAL_NIL_FEATURES, GeneralInput
from elkit.linking.general_model import GeneralScorer, pad_inputs
from elkit.linking.mentions import Mention
from elkit.ner.calibration import expected_calibration_error
from elkit.settings import Settings

__all__ = ["GeneralExample", "GeneralTrainingReport", "GeneralTrainingSettings", "LinkingCorpus", "corpus_examples",
           "fit_scorer", "gold_ids", "misspell", "unseen_features"]

_SEPARATORS = re.compile(r"[|+,;]")


class GeneralTrainingSettings(Settings):
    """How the general scorer is trained.

    Attributes:
        epochs: Passes over the training examples.
        learning_rate: Adam learning rate.
        weight_decay: Adam weight decay.
        hidden_width: Width of the scorer's tanh layer.
        batch_size: Mentions per step.
        nil_rate: Share of linked mentions shown without their gold candidates, with NIL as the answer.
        nil_keep: Share of the examples whose answer is NIL (from the corpus or made) that `fit_scorer` keeps,
            in training and in held-out selection. News corpora have many NIL mentions; with all of them the
            scorer answers NIL whenever two candidates compete, which costs more links than it saves.
        held_out: Share of each corpus's documents held out to choose the epoch and the temperature.
        seed: Seed for the split, the NIL sampling and the weights.
    """

    epochs: int = pydantic.Field(40, ge=1)
    learning_rate: float = pydantic.Field(0.01, gt=0.0)
    weight_decay: float = pydantic.Field(1e-4, ge=0.0)
    hidden_width: int = pydantic.Field(32, ge=1)
    batch_size: int = pydantic.Field(256, ge=1)
    nil_rate: float = pydantic.Field(0.15, ge=0.0, le=1.0)
    nil_keep: float = pydantic.Field(0.25, gt=0.0, le=1.0)
    held_out: float = pydantic.Field(0.1, gt=0.0, lt=1.0)
    seed: int = 0


@dataclass
class LinkingCorpus:
    """Documents with gold links (``span.kb_id``; NIL for names outside the KB) and the KB they link to."""

    name: str
    docs: list[Doc]
    kb: KnowledgeBase


@dataclass(frozen=True)
class GeneralExample:
    """A mention's input and the rows of its gold candidates (empty: the answer is NIL)."""

    item: GeneralInput
    gold: tuple[int, ...]


@dataclass(frozen=True)
class GeneralTrainingReport:
    """What training chose and saw on the held-out mentions."""

    best_epoch: int
    held_out_loss: float
    held_out_accuracy: float
    temperature: float
    ece_before: float
    ece_after: float
    train_examples: int
    held_out_examples: int


def gold_ids(kb_id: str, kb: KnowledgeBase) -> set[str]:
    """The KB ids a gold ``kb_id`` names (composite ids split on ``|``, ``+``, ``,`` and ``;``; resolved)."""
    if not kb_id or kb_id == NIL:
        return set()
    found = set()
    for part in _SEPARATORS.split(kb_id):
        resolved = kb.resolve(part.strip()) if part.strip() else None
        if resolved is not None:
            found.add(resolved)
    return found


def misspell(text: str, rng: random.Random) -> str:
    """`text` with one letter dropped, doubled, swapped with the next or replaced by a neighbour (when it has one)."""
    positions = [index for index, character in enumerate(text) if character.isalpha()]
    if len(positions) < 4:
        return text
    index = rng.choice(positions[1:])
    kind = rng.randrange(4)
    if kind == 0:
        return text[:index] + text[index + 1:]
    if kind == 1:
        return text[:index] + text[index] + text[index:]
    if kind == 2 and index + 1 < len(text) and text[index + 1].isalpha():
        return text[:index] + text[index + 1] + text[index] + text[index + 2:]
    replacement = chr((ord(text[index].lower()) - 97 + rng.choice((-1, 1))) % 26 + 97)
    return text[:index] + (replacement.upper() if text[index].isupper() else replacement) + text[index + 1:]


def _noisy(mentions: list[Mention], rng: random.Random, misspell_rate: float, label_noise: float,
           labels: Sequence[str]) -> list[Mention]:
    output = []
    for mention in mentions:
        text, span = mention.text, mention.span
        if misspell_rate and rng.random() < misspell_rate:
            text = misspell(text, rng)
        if label_noise and labels and rng.random() < label_noise:
            span = span.replace(label=rng.choice(labels))
        output.append(dataclasses.replace(mention, text=text, span=span))
    return output


NOISE_LABELS = ("person", "organisation", "location", "miscellaneous", "disease", "chemical", "product", "event")
"""Labels a training mention may be shown with instead of its own (a zero-shot recognizer's label can be wrong)."""


def corpus_examples(linker: GeneralLinker, corpus: LinkingCorpus, *, nil_rate: float, seed: int,
                    misspell_rate: float = 0.0, label_noise: float = 0.0, batch_docs: int = 16,
                    progress: Callable[[int], None] | None = None) -> list[GeneralExample]:
    """The corpus's gold mentions as training examples, through the linker's own stages.

    Args:
        linker: Gives candidates and features (its KB is set to the corpus's).
        corpus: The documents and their KB.
        nil_rate: Share of linked mentions whose gold candidates are taken away (the answer becomes NIL).
        seed: Seed of the random choices.
        misspell_rate: Share of mentions looked up with one letter changed (`misspell`), so that a close fuzzy
            match is learnt to be a typo of the name rather than another entity.
        label_noise: Share of mentions shown with a label from `NOISE_LABELS` instead of their own, so that a
            recognizer's wrong label is weak evidence, not a veto.
        batch_docs: Documents per feature batch.
        progress: Called with the number of documents done after each batch.
    """
    linker.set_kb(corpus.kb)
    rng = random.Random(seed)
    examples: list[GeneralExample] = []
    for start in range(0, len(corpus.docs), batch_docs):
        batch = corpus.docs[start: start + batch_docs]
        mentions = _noisy(linker.mentions(batch, training=True), rng, misspell_rate, label_noise, NOISE_LABELS)
        candidates = linker.candidates(mentions)
        golds = [gold_ids(mention.span.kb_id, corpus.kb) for mention in mentions]
        shown = []
        for gold, found in zip(golds, candidates, strict=True):
            if gold and rng.random() < nil_rate:
                found = tuple(candidate for candidate in found if candidate.entity_id not in gold)
                gold.clear()
            shown.append(found)
        for item, gold in zip(linker.inputs(batch, mentions, shown), golds, strict=True):
            examples.append(GeneralExample(item, tuple(row for row, candidate in enumerate(item.candidates)
                                                       if candidate.entity_id in gold)))
        if progress is not None:
            progress(len(batch))
    return examples


def _tensors(examples: Sequence[GeneralExample]) -> tuple[torch.Tensor, ...]:
    features, mask, nil = pad_inputs([example.item for example in examples])
    targets = torch.zeros(mask.shape[0], mask.shape[1] + 1, dtype=torch.bool)
    for row, example in enumerate(examples):
        if example.gold:
            targets[row, list(example.gold)] = True
        else:
            targets[row, -1] = True
    return features, mask, nil, targets


def _loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    gold = torch.logsumexp(logits.masked_fill(~targets, float("-inf")), dim=1)
    return (torch.logsumexp(logits, dim=1) - gold).mean()


def _fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    best, best_loss = 1.0, math.inf
    for step in range(-40, 41):
        temperature = math.exp(step / 40)
        loss = float(_loss(logits / temperature, targets))
        if loss < best_loss:
            best, best_loss = temperature, loss
    return best


def _top_calibration(logits: torch.Tensor, targets: torch.Tensor) -> float:
    probabilities = torch.softmax(logits, dim=1)
    top, index = probabilities.max(dim=1)
    right = targets.gather(1, index[:, None]).squeeze(1)
    return expected_calibration_error(top, right)


def unseen_features(examples: Sequence[GeneralExample]) -> list[str]:
    """Features that are 0 in every example (names as `GeneralScorer.unused_features` gives them).

    A feature the training corpora never fill (popularity, when every KB trained on has none) has weights that
    learned nothing; the scorer leaves it out instead of letting those weights score a KB where it varies. The
    NIL option's ``bias`` feature is always kept.
    """
    seen = np.zeros(len(GENERAL_FEATURES), dtype=bool)
    nil_seen = np.zeros(len(GENERAL_NIL_FEATURES), dtype=bool)
    for example in examples:
        if len(example.item.candidates):
            seen |= (example.item.features != 0).any(axis=0)
        nil_seen |= example.item.nil != 0
    nil_seen[GENERAL_NIL_FEATURES.index("bias")] = True
    return ([name for name, found in zip(GENERAL_FEATURES, seen, strict=True) if not found]
            + [f"nil.{name}" for name, found in zip(GENERAL_NIL_FEATURES, nil_seen, strict=True) if not found])


def fit_scorer(train: Sequence[GeneralExample], held_out: Sequence[GeneralExample],
               settings: GeneralTrainingSettings | None = None,
               log: Callable[[str], None] | None = None) -> tuple[GeneralScorer, GeneralTrainingReport]:
    """Train a scorer; keep the epoch with the lowest held-out loss, then fit its temperature there.

    A share ``1 - nil_keep`` of the NIL-answer examples is left out of both sets first.

    Raises:
        ValueError: No training or no held-out examples.
    """
    settings = settings or GeneralTrainingSettings()
    sampler = random.Random(settings.seed)
    train = [example for example in train if example.gold or sampler.random() < settings.nil_keep]
    held_out = [example for example in held_out if example.gold or sampler.random() < settings.nil_keep]
    if not train or not held_out:
        raise ValueError("fit_scorer needs training and held-out examples")
    torch.manual_seed(settings.seed)
    scorer = GeneralScorer(settings.hidden_width)
    scorer.set_unused_features(unseen_features(train))
    if log is not None and scorer.unused_features:
        log(f"features never non-zero in training, left out: {', '.join(scorer.unused_features)}")
    optimizer = torch.optim.Adam(scorer.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    held = _tensors(held_out)
    order = list(train)
    rng = random.Random(settings.seed)
    best_loss, best_epoch, best_state = math.inf, 0, dict(scorer.state_dict())
    for epoch in range(1, settings.epochs + 1):
        rng.shuffle(order)
        scorer.train()
        for start in range(0, len(order), settings.batch_size):
            features, mask, nil, targets = _tensors(order[start: start + settings.batch_size])
            loss = _loss(scorer(features, mask, nil), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scorer.eval()
        with torch.no_grad():
            held_loss = float(_loss(scorer(*held[:3]), held[3]))
        if held_loss < best_loss:
            best_loss, best_epoch = held_loss, epoch
            best_state = {name: tensor.clone() for name, tensor in scorer.state_dict().items()}
        if log is not None:
            log(f"epoch {epoch}: held-out loss {held_loss:.4f} (best {best_loss:.4f} at {best_epoch})")
    scorer.load_state_dict(best_state)
    scorer.eval()
    with torch.no_grad():
        logits = scorer(*held[:3])
    temperature = _fit_temperature(logits, held[3])
    scorer.temperature.fill_(temperature)
    right = held[3].gather(1, logits.argmax(dim=1)[:, None]).float().mean()
    report = GeneralTrainingReport(
        best_epoch=best_epoch, held_out_loss=best_loss, held_out_accuracy=float(right), temperature=temperature,
        ece_before=_top_calibration(logits, held[3]), ece_after=_top_calibration(logits / temperature, held[3]),
        train_examples=len(train), held_out_examples=len(held_out))
    return scorer, report
