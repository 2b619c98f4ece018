"""Held-out selection for the linker: what training decides on, and what it never looks at.

Every choice a linker training run makes — the best epoch, the NIL offset, the reranker's combination weights —
is made on documents held out of the training set, never on the dev set that is reported. Dev scores a change
once, for the record; a model chosen on it would look better there than on the next documents it meets.

The held-out documents are whole runs of consecutive training documents (news collections repeat a story across
neighbouring documents; a held-out document whose neighbour was trained on would look easier than new text). They
are kept out of the tables (mention counts, entity contexts, memory) and out of the gradient while choices are
made, so the linker scores them exactly as it scores new text.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["held_out_split"]

Item = TypeVar("Item")


def held_out_split(docs: Sequence[Item], share: float, seed: int = 0, chunk: int = 10
                   ) -> tuple[list[Item], list[Item]]:
    """Split training documents into (documents to learn from, documents to choose on).

    The held-out part is ``share`` of the documents (rounded, at least one, never all), drawn as runs of up to
    ``chunk`` consecutive documents (shorter runs when the corpus has fewer than ten times ``chunk``), with a seeded
    choice of runs. Both parts keep the corpus order.

    Args:
        docs: The training documents, in corpus order.
        share: The share to hold out (0: none).
        seed: Seed for the choice of runs.
        chunk: The longest run of consecutive documents held out together.

    Returns:
        (the documents to learn from, the held-out documents); with fewer than two documents or a share of 0,
        nothing is held out.
    """
    count = len(docs)
    if count < 2 or share <= 0.0:
        return list(docs), []
    wanted = min(count - 1, max(1, round(count * share)))
    run = max(1, min(chunk, wanted, count // 10 or 1))
    starts = list(range(0, count, run))
    random.Random(seed).shuffle(starts)
    held: set[int] = set()
    for start in starts:
        if len(held) >= wanted:
            break
        held.update(range(start, min(start + run, count, start + wanted - len(held))))
    learn = [doc for index, doc in enumerate(docs) if index not in held]
    return learn, [doc for index, doc in enumerate(docs) if index in held]
