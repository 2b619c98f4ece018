"""The linker's candidate stage: each mention's candidates, from the generator set its settings declare.

The set is built in `elkit.candidates` (`build_generator`): the KB generators merged, then the entities the
mention's text was linked to in training. A ``get_candidates`` function given to the linker (spaCy's hook) is
used instead when there is one. Candidates the KB does not know are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from elkit.candidates import AppendGenerator, MentionTable, UnionGenerator
from elkit.doc import NIL, Candidate, Span
from elkit.kb.base import KnowledgeBase
from elkit.linking.mentions import Mention

__all__ = ["GetCandidates", "generate_candidates", "table_shares"]

GetCandidates = Callable[[Sequence[Span]], list[list[Candidate]]]
"""A function from spans to their candidates, used instead of the generator set (spaCy's ``get_candidates``)."""


def generate_candidates(
    mentions: Sequence[Mention],
    kb: KnowledgeBase,
    generator: UnionGenerator | AppendGenerator,
    table: MentionTable,
    get_candidates: GetCandidates | None = None,
) -> list[tuple[Candidate, ...]]:
    """Each mention's candidates, in the generator's order.

    Args:
        mentions: The mentions.
        kb: The knowledge base (candidates it does not know are dropped).
        generator: The generator set (`elkit.candidates.build_generator`); when it includes the training table,
            its ``batch`` takes ``left_out``, each mention's block key.
        table: The training counts (a KB without aliases and an empty table give no candidate at all).
        get_candidates: Used instead of the generator when given.
    """
    if get_candidates is not None:
        found = [list(candidates) for candidates in get_candidates([mention.span for mention in mentions])]
    elif not mentions:
        return []
    elif kb.alias_count == 0 and not len(table):
        found = [[] for _ in mentions]
    elif isinstance(generator, AppendGenerator):
        found = generator.batch([mention.text for mention in mentions],
                                left_out=[mention.block_key for mention in mentions])
    else:
        found = generator.batch([mention.text for mention in mentions])
    return [tuple(candidate for candidate in candidates if candidate.entity_id in kb) for candidates in found]


def table_shares(table: MentionTable, mention: Mention) -> dict[str, float]:
    """p(entity | the mention's text) from the training counts, its own block of training documents left out.

    The counts of the text as written are used, else those of its normalised form; NIL is left out.
    """
    exact, normal = table.lookup(mention.text, mention.block_key)
    counts = exact if exact else normal
    total = sum(counts.values())
    return {entity: count / total for entity, count in counts.items() if entity != NIL} if total else {}
