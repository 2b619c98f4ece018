"""Entity-linking scores, on gold mentions and end to end.

On gold mentions: in-KB accuracy, NIL precision / recall, candidate recall@k. End to end: micro precision /
recall / F1 over (span, id) pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from elkit.doc import NIL, Doc, Span
from elkit.errors import DataError

__all__ = ["LinkScores", "gold_id_set", "score_links"]

_RECALL_AT = (1, 5, 10, 30)


def gold_id_set(kb_id: str, resolve: Callable[[str], str | None] | None = None) -> set[str]:
    """The ids a gold ``kb_id`` accepts.

    That is the id itself and the parts of a composite ("D1|D2", "D1+D2"), resolved through the KB (other ids such
    as OMIM numbers) when `resolve` is given.
    """
    parts = {kb_id} | {part for part in kb_id.replace("+", "|").split("|") if part}
    if resolve is not None:
        parts |= {found for found in (resolve(part) for part in parts) if found}
    return parts


@dataclass
class LinkScores:
    """Linking scores. Fractions in [0, 1]; counts are mentions.

    Attributes:
        linked_mentions: Gold mentions with an in-KB id.
        accuracy: Share of those whose prediction is one of their gold ids (NIL or no prediction is wrong).
        accuracy_no_nil: The same when the linker may not answer NIL (its best candidate, if any, counts).
        nil_mentions: Gold NIL mentions.
        nil_precision: Of the mentions predicted NIL, the share that are gold NIL.
        nil_recall: Of the gold NIL mentions, the share predicted NIL.
        recall_at: Share of linked mentions with a gold id among the first k candidates, per k.
        e2e_precision: End to end: predicted (span, id) pairs that are gold, over predicted linked spans.
        e2e_recall: Gold (span, id) pairs found, over gold linked spans.
        e2e_f: Their harmonic mean.
        mentions_per_second: Set by callers that time the linker.
    """

    linked_mentions: int = 0
    accuracy: float = 0.0
    accuracy_no_nil: float = 0.0
    nil_mentions: int = 0
    nil_precision: float = 0.0
    nil_recall: float = 0.0
    recall_at: dict[int, float] = field(default_factory=dict)
    e2e_precision: float = 0.0
    e2e_recall: float = 0.0
    e2e_f: float = 0.0
    mentions_per_second: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready scores."""
        return asdict(self)


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def score_links(predicted: Sequence[Doc], gold: Sequence[Doc],
                resolve: Callable[[str], str | None] | None = None) -> LinkScores:
    """Score predicted documents against gold ones (same texts, in the same order).

    Gold-mention scores compare spans at the same token offsets; a gold mention the prediction lacks counts as
    wrong. End-to-end scores compare (start, end, id) triples over all spans.

    Raises:
        DataError: When the two lists differ in length or texts.
    """
    if len(predicted) != len(gold):
        raise DataError(f"{len(predicted)} predicted documents against {len(gold)} gold ones")
    scores = LinkScores()
    correct = correct_forced = 0
    nil_predicted = nil_right = nil_found = 0
    found_at = dict.fromkeys(_RECALL_AT, 0)
    e2e_predicted = e2e_gold = e2e_right = 0
    for number, (doc, reference) in enumerate(zip(predicted, gold, strict=True)):
        if doc.text != reference.text:
            raise DataError(f"document {number}: predicted and gold texts differ")
        by_offsets: dict[tuple[int, int], Span] = {(span.start, span.end): span for span in doc.ents}
        gold_links: dict[tuple[int, int], set[str]] = {}
        for span in reference.ents:
            if not span.kb_id:
                continue
            guess = by_offsets.get((span.start, span.end))
            predicted_id = guess.kb_id if guess is not None else ""
            if span.kb_id == NIL:
                scores.nil_mentions += 1
                nil_found += predicted_id in (NIL, "")
                continue
            accepted = gold_id_set(span.kb_id, resolve)
            gold_links[(span.start, span.end)] = accepted
            scores.linked_mentions += 1
            correct += predicted_id in accepted
            ranked = [candidate.entity_id for candidate in guess.candidates] if guess is not None else []
            correct_forced += bool(ranked) and ranked[0] in accepted
            for k in _RECALL_AT:
                found_at[k] += any(entity in accepted for entity in ranked[:k])
        for span in reference.ents:
            if span.kb_id == NIL:
                guess = by_offsets.get((span.start, span.end))
                if guess is not None and guess.kb_id in (NIL, ""):
                    nil_right += 1
        for span in doc.ents:
            if span.kb_id == NIL:
                nil_predicted += 1
            if span.is_linked:
                e2e_predicted += 1
                e2e_right += span.kb_id in gold_links.get((span.start, span.end), set())
        e2e_gold += len(gold_links)
    scores.accuracy = _ratio(correct, scores.linked_mentions)
    scores.accuracy_no_nil = _ratio(correct_forced, scores.linked_mentions)
    scores.nil_precision = _ratio(nil_right, nil_predicted)
    scores.nil_recall = _ratio(nil_found, scores.nil_mentions)
    scores.recall_at = {k: _ratio(value, scores.linked_mentions) for k, value in found_at.items()}
    scores.e2e_precision = _ratio(e2e_right, e2e_predicted)
    scores.e2e_recall = _ratio(e2e_right, e2e_gold)
    total = scores.e2e_precision + scores.e2e_recall
    scores.e2e_f = 2 * scores.e2e_precision * scores.e2e_recall / total if total else 0.0
    return scores
