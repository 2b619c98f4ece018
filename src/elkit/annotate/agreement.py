"""Inter-annotator agreement on a dataset of answers: span F1, Cohen's and Fleiss' kappa, entity-link agreement.

Annotators are sessions (``_session_id``); answers are compared per text (``_input_hash``). The definitions:

* **Span answers** (views "spans" and "review"; answers without a view count as span answers unless they chose an
  entity): only accepted answers count. A reject or ignore means "no usable annotation": it is skipped and
  counted. Binary answers (ner.teach) are not compared (counted). When one session answered a text twice, its
  last answer counts.
* **Exact F1** of two annotators: a span matches when (start, end, label) are equal. Micro-averaged over the texts
  both accepted: ``F1 = 2 * matched / (spans of the first + spans of the second)``. When neither marked any span
  in those texts, F1 is 1.0 (they agree there is nothing to mark).
* **Overlap F1**: a span matches a span of the same label of the other annotator that shares at least one token
  with it; spans are matched one to one (a maximum matching), and F1 is computed as above. So "New York" against
  "York" counts as matched here but not in the exact F1.
* **Token labels**: each token's label is the label of the span covering it, or "O" (the text's tokens are those
  of its first answer; a token is covered when its characters intersect the span).
* **Cohen's kappa** of a pair: on the token labels of the texts both accepted. **Fleiss' kappa**: on the token
  labels of the texts every compared annotator accepted (a fixed set of raters; the other texts are left out
  and counted). Compared annotators are the chosen sessions with at least one accepted span answer.
* **Kappa when the expected agreement is 1** (every rating is the same label): 1.0 when the observed agreement is
  1, else 0.0. A kappa is None when there is nothing to compare.
* **Links** (view "choice", el.manual): a mention is (text, start, end), its chosen id ``accept[0]`` (NIL is an id
  like any other). A mention's agreement is the share of annotator pairs that chose the same id; the overall
  link agreement is its mean over the mentions answered by at least two annotators. Each pair also gets Cohen's
  kappa over the ids of the mentions both answered (chance agreement from the pooled id frequencies; with many
  distinct ids it comes close to the observed agreement).
* **Text agreement**: the mean of the pairwise comparisons on one text: the exact F1 of each pair of span answers
  (1.0 when both are empty) and, for each mention, 1 or 0 for each pair of chosen ids. A text's disagreement is
  ``1 - agreement``; texts with fewer than two usable answers get none (they are skipped and counted).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from elkit.annotate.store import Store
from elkit.errors import DataError

__all__ = ["AgreementReport", "LinkAgreement", "PairAgreement", "TextDisagreement", "cohen_kappa",
           "compute_agreement", "fleiss_kappa", "span_f1", "span_matches", "text_agreement", "token_labels"]

OUTSIDE = "O"
"""The token label of tokens outside every span."""

Span = tuple[int, int, str]
"""A span as (start character, end character, label)."""


def _kappa(observed: float, expected: float) -> float:
    if expected >= 1.0 - 1e-12:
        return 1.0 if observed >= 1.0 - 1e-12 else 0.0
    return (observed - expected) / (1.0 - expected)


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters' labels for the same items; None when there are no items.

    Raises:
        ValueError: The two sequences differ in length.
    """
    if len(first) != len(second):
        raise ValueError(f"cohen_kappa: {len(first)} labels against {len(second)}")
    total = len(first)
    if not total:
        return None
    observed = sum(left == right for left, right in zip(first, second, strict=True)) / total
    first_counts, second_counts = Counter(first), Counter(second)
    expected = sum(count * second_counts[label] for label, count in first_counts.items()) / (total * total)
    return _kappa(observed, expected)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa of a subjects x categories table of rating counts, with the same number of raters per row.

    Returns:
        The kappa, or None when there are no subjects.

    Raises:
        ValueError: Rows with different numbers of raters, or fewer than two raters.
    """
    if not counts:
        return None
    raters = sum(counts[0])
    if raters < 2 or any(sum(row) != raters for row in counts):
        raise ValueError("fleiss_kappa needs the same number (at least two) of raters for every subject")
    subjects = len(counts)
    observed = sum((sum(count * count for count in row) - raters) / (raters * (raters - 1)) for row in counts)
    observed /= subjects
    totals = [sum(column) for column in zip(*counts, strict=True)]
    expected = sum((total / (subjects * raters)) ** 2 for total in totals)
    return _kappa(observed, expected)


def _token_range(span: Span, tokens: Sequence[tuple[int, int]]) -> range:
    covered = [index for index, (start, end) in enumerate(tokens) if start < span[1] and end > span[0]]
    return range(covered[0], covered[-1] + 1) if covered else range(0)


def token_labels(tokens: Sequence[tuple[int, int]], spans: Iterable[Span]) -> list[str]:
    """Each token's label: the label of the span covering it, or "O"."""
    labels = [OUTSIDE] * len(tokens)
    for span in spans:
        for index in _token_range(span, tokens):
            labels[index] = span[2]
    return labels


def _maximum_matching(neighbours: list[list[int]], right_count: int) -> int:
    owner = [-1] * right_count

    def augment(left: int, seen: set[int]) -> bool:
        for right in neighbours[left]:
            if right in seen:
                continue
            seen.add(right)
            if owner[right] == -1 or augment(owner[right], seen):
                owner[right] = left
                return True
        return False

    return sum(augment(left, set()) for left in range(len(neighbours)))


def span_matches(first: Sequence[Span], second: Sequence[Span], tokens: Sequence[tuple[int, int]],
                 overlap: bool = False) -> int:
    """How many spans match one to one: exactly, or (``overlap``) by a shared token and the same label."""
    if not overlap:
        return len(set(first) & set(second))
    second_ranges = [set(_token_range(span, tokens)) for span in second]
    neighbours = []
    for span in first:
        own = set(_token_range(span, tokens))
        neighbours.append([index for index, other in enumerate(second)
                           if other[2] == span[2] and own & second_ranges[index]])
    return _maximum_matching(neighbours, len(second))


def span_f1(matched: int, first_count: int, second_count: int) -> float:
    """``2 * matched / (first_count + second_count)``; 1.0 when neither annotator marked anything."""
    total = first_count + second_count
    return 1.0 if total == 0 else 2 * matched / total


@dataclass
class _SpanAnswer:
    text: str
    tokens: list[tuple[int, int]]
    spans: list[Span]


@dataclass
class _Collected:
    spans: dict[int, dict[str, _SpanAnswer]] = field(default_factory=dict)
    links: dict[int, dict[tuple[int, int], dict[str, str]]] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)


def _tokens_of(task: Mapping[str, Any]) -> list[tuple[int, int]]:
    tokens = task.get("tokens")
    if tokens:
        return [(int(token["start"]), int(token["end"])) for token in tokens]
    from elkit.tokenize import Tokenizer

    doc = Tokenizer()(task["text"])
    return list(zip(doc.token_starts, doc.token_ends, strict=True))


def _collect(answers: Iterable[Mapping[str, Any]], sessions: Sequence[str] | None = None) -> _Collected:
    collected = _Collected()
    wanted = set(sessions) if sessions is not None else None
    reference_tokens: dict[int, list[tuple[int, int]]] = {}
    for task in answers:
        session = str(task.get("_session_id", ""))
        if wanted is not None and session not in wanted:
            continue
        key = int(task["_input_hash"])
        view = task.get("_view_id")
        is_choice = view == "choice" or (view is None and bool(task.get("accept")) and "options" in task)
        if view == "binary":
            collected.skipped["binary answers (not compared)"] += 1
            continue
        if task.get("answer") != "accept":
            collected.skipped["rejected or ignored answers"] += 1
            continue
        collected.texts.setdefault(key, task["text"])
        if is_choice:
            chosen = task.get("accept") or []
            mentions = task.get("spans") or []
            if len(chosen) != 1 or not mentions:
                collected.skipped["choice answers without one mention and one id"] += 1
                continue
            mention = (int(mentions[0]["start"]), int(mentions[0]["end"]))
            collected.links.setdefault(key, {}).setdefault(mention, {})[session] = str(chosen[0])
            continue
        if key not in reference_tokens:
            reference_tokens[key] = _tokens_of(task)
        spans = sorted((int(span["start"]), int(span["end"]), str(span.get("label", "")))
                       for span in task.get("spans", []))
        collected.spans.setdefault(key, {})[session] = _SpanAnswer(task["text"], reference_tokens[key], spans)
    return collected


def _comparisons(span_answers: Mapping[str, _SpanAnswer], mentions: Mapping[tuple[int, int], Mapping[str, str]]
                 ) -> list[float]:
    scores = []
    for first, second in itertools.combinations(sorted(span_answers), 2):
        left, right = span_answers[first], span_answers[second]
        scores.append(span_f1(span_matches(left.spans, right.spans, left.tokens), len(left.spans), len(right.spans)))
    for chosen in mentions.values():
        scores.extend(float(chosen[first] == chosen[second]) for first, second in itertools.combinations(chosen, 2))
    return scores


def text_agreement(answers: Iterable[Mapping[str, Any]]) -> float | None:
    """The agreement on one text (see the module docstring); None when fewer than two usable answers compare."""
    collected = _collect(answers)
    scores: list[float] = []
    for key in collected.texts:
        scores.extend(_comparisons(collected.spans.get(key, {}), collected.links.get(key, {})))
    return sum(scores) / len(scores) if scores else None


@dataclass
class PairAgreement:
    """The agreement of two annotators.

    Attributes:
        first: One annotator (session).
        second: The other.
        texts: Texts both accepted (span answers).
        tokens: Tokens of those texts (the items of Cohen's kappa).
        exact_f1: Micro-averaged F1 of exact span matches; None without shared texts.
        overlap_f1: The same with overlap matching.
        cohen_kappa: Cohen's kappa on token labels.
        mentions: Mentions both linked (el.manual).
        link_agreement: Share of those where both chose the same id.
        link_kappa: Cohen's kappa over the chosen ids.
    """

    first: str
    second: str
    texts: int = 0
    tokens: int = 0
    exact_f1: float | None = None
    overlap_f1: float | None = None
    cohen_kappa: float | None = None
    mentions: int = 0
    link_agreement: float | None = None
    link_kappa: float | None = None


@dataclass
class LinkAgreement:
    """Agreement on chosen entity ids over the mentions answered by at least two annotators.

    Attributes:
        mentions: Mentions compared.
        agreement: Mean over the mentions of the share of annotator pairs that chose the same id.
        unanimous: Mentions where every annotator chose the same id.
    """

    mentions: int
    agreement: float
    unanimous: int


@dataclass
class TextDisagreement:
    """One text's disagreement.

    Attributes:
        input_hash: The text's input hash.
        text: The text.
        score: ``1 - text agreement`` (0: all agree, 1: nothing in common).
        annotations: Per annotator, its spans ("Apple [ORG]") and chosen ids ("Paris -> Q90"), in text order.
    """

    input_hash: int
    text: str
    score: float
    annotations: dict[str, list[str]]


@dataclass
class AgreementReport:
    """Everything :func:`compute_agreement` measured (definitions in the module docstring).

    Attributes:
        dataset: The dataset.
        sessions: The annotators compared.
        pairs: One entry per pair of annotators.
        texts: Texts answered by at least two annotators.
        mean_exact_f1: Mean of the pairs' exact F1 (pairs with shared texts only).
        mean_overlap_f1: Mean of the pairs' overlap F1.
        mean_cohen_kappa: Mean of the pairs' Cohen's kappa.
        fleiss_kappa: Fleiss' kappa on token labels over the texts every compared annotator accepted.
        fleiss_annotators: The annotators in Fleiss' kappa (those with accepted span answers).
        fleiss_texts: How many texts it covers.
        links: Link agreement, when there are el.manual answers to compare.
        disagreements: Texts with at least two annotators, most disagreement first.
        skipped: What was left out, by reason.
    """

    dataset: str
    sessions: list[str]
    pairs: list[PairAgreement]
    texts: int
    mean_exact_f1: float | None
    mean_overlap_f1: float | None
    mean_cohen_kappa: float | None
    fleiss_kappa: float | None
    fleiss_annotators: list[str]
    fleiss_texts: int
    links: LinkAgreement | None
    disagreements: list[TextDisagreement]
    skipped: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready dicts and lists."""
        return asdict(self)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


def _pair(first: str, second: str, collected: _Collected) -> PairAgreement:
    pair = PairAgreement(first, second)
    exact = overlap = first_count = second_count = 0
    first_labels: list[str] = []
    second_labels: list[str] = []
    for answers in collected.spans.values():
        if first not in answers or second not in answers:
            continue
        left, right = answers[first], answers[second]
        pair.texts += 1
        exact += span_matches(left.spans, right.spans, left.tokens)
        overlap += span_matches(left.spans, right.spans, left.tokens, overlap=True)
        first_count += len(left.spans)
        second_count += len(right.spans)
        first_labels.extend(token_labels(left.tokens, left.spans))
        second_labels.extend(token_labels(left.tokens, right.spans))
    if pair.texts:
        pair.exact_f1 = span_f1(exact, first_count, second_count)
        pair.overlap_f1 = span_f1(overlap, first_count, second_count)
        pair.tokens = len(first_labels)
        pair.cohen_kappa = cohen_kappa(first_labels, second_labels)
    shared = [(chosen[first], chosen[second]) for mentions in collected.links.values()
              for chosen in mentions.values() if first in chosen and second in chosen]
    if shared:
        pair.mentions = len(shared)
        pair.link_agreement = sum(left == right for left, right in shared) / len(shared)
        pair.link_kappa = cohen_kappa(*map(list, zip(*shared, strict=True)))
    return pair


def _fleiss(collected: _Collected, annotators: list[str]) -> tuple[float | None, int]:
    if len(annotators) < 2:
        return None, 0
    rows: list[Counter[str]] = []
    texts = 0
    for answers in collected.spans.values():
        if not all(name in answers for name in annotators):
            continue
        texts += 1
        tokens = answers[annotators[0]].tokens
        labelled = [token_labels(tokens, answers[name].spans) for name in annotators]
        rows.extend(Counter(labels) for labels in zip(*labelled, strict=True))
    categories = sorted({label for row in rows for label in row})
    return fleiss_kappa([[row[label] for label in categories] for row in rows]), texts


def _links(collected: _Collected) -> LinkAgreement | None:
    shares = []
    unanimous = 0
    for mentions in collected.links.values():
        for chosen in mentions.values():
            if len(chosen) < 2:
                continue
            pairs = list(itertools.combinations(chosen.values(), 2))
            shares.append(sum(a == b for a, b in pairs) / len(pairs))
            unanimous += len(set(chosen.values())) == 1
    return LinkAgreement(len(shares), sum(shares) / len(shares), unanimous) if shares else None


def _annotations(key: int, session: str, collected: _Collected) -> list[str]:
    found: list[tuple[int, int, str]] = []
    answer = collected.spans.get(key, {}).get(session)
    if answer is not None:
        found.extend((start, end, f"{answer.text[start:end]} [{label}]") for start, end, label in answer.spans)
    text = collected.texts[key]
    for (start, end), chosen in collected.links.get(key, {}).items():
        if session in chosen:
            found.append((start, end, f"{text[start:end]} -> {chosen[session]}"))
    return [short for _, _, short in sorted(found)]


def compute_agreement(store: Store, dataset: str, sessions: Sequence[str] | None = None) -> AgreementReport:
    """Measure how far the annotators of a dataset agree (definitions in the module docstring).

    Args:
        store: The answer store.
        dataset: The dataset.
        sessions: The annotators to compare; None compares every session with usable answers.

    Raises:
        DataError: No such dataset, an unknown session, or fewer than two annotators with usable answers.
    """
    if dataset not in store:
        raise DataError(f"no dataset {dataset!r} in {store!r} (datasets: {', '.join(store.datasets()) or 'none'})")
    known = store.stats(dataset)["sessions"]
    if sessions is not None:
        unknown = [name for name in sessions if name not in known]
        if unknown:
            raise DataError(f"no session {', '.join(map(repr, unknown))} in {dataset!r} "
                            f"(sessions: {', '.join(repr(name) for name in known) or 'none'})")
    collected = _collect(store.iter_answers(dataset), sessions)
    usable = {name for answers in collected.spans.values() for name in answers}
    usable |= {name for mentions in collected.links.values() for chosen in mentions.values() for name in chosen}
    chosen_sessions = sorted(set(sessions)) if sessions is not None else sorted(usable)
    if len(chosen_sessions) < 2 or len(usable) < 2:
        raise DataError(f"agreement needs at least two annotators with accepted answers in {dataset!r}; found "
                        f"{', '.join(repr(name) for name in sorted(usable)) or 'none'} (sessions: "
                        f"{', '.join(repr(name) for name in known) or 'none'})")
    pairs = [_pair(first, second, collected) for first, second in itertools.combinations(chosen_sessions, 2)]
    span_annotators = sorted({name for answers in collected.spans.values() for name in answers})
    fleiss, fleiss_texts = _fleiss(collected, span_annotators)
    disagreements = []
    skipped = Counter(collected.skipped)
    for key, text in collected.texts.items():
        scores = _comparisons(collected.spans.get(key, {}), collected.links.get(key, {}))
        if not scores:
            skipped["texts answered by one annotator only"] += 1
            continue
        names = sorted(set(collected.spans.get(key, {})) | {name for chosen in collected.links.get(key, {}).values()
                                                             for name in chosen})
        disagreements.append(TextDisagreement(key, text, 1.0 - sum(scores) / len(scores),
                                              {name: _annotations(key, name, collected) for name in names}))
    disagreements.sort(key=lambda entry: -entry.score)
    left_out = sum(1 for answers in collected.spans.values() if len(answers) > 1) - fleiss_texts
    if len(span_annotators) > 1 and left_out:
        skipped["texts without every annotator (left out of Fleiss' kappa)"] += left_out
    return AgreementReport(
        dataset=dataset, sessions=chosen_sessions, pairs=pairs, texts=len(disagreements),
        mean_exact_f1=_mean(pair.exact_f1 for pair in pairs), mean_overlap_f1=_mean(pair.overlap_f1 for pair in pairs),
        mean_cohen_kappa=_mean(pair.cohen_kappa for pair in pairs), fleiss_kappa=fleiss,
        fleiss_annotators=span_annotators if fleiss_texts else [], fleiss_texts=fleiss_texts,
        links=_links(collected), disagreements=disagreements, skipped=dict(skipped))
