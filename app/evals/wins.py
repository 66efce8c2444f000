"""Per-item wins and losses between two levels: the items where one passed and the other
failed (for a score such as `quality`, where one scored higher), both answers side by side,
how many went each way, and the paired test between the two (app/evals/stats.py).

For two levels of an eval run (`run_wins`: the run's scores, app/evals/scores.py, and the
test its summary shows, Holm-adjusted across the summary's pairs) and for an adapter before
and after training (`adapter_wins`: the per-item results its before/after report stored,
tested on their own: one pair per metric, nothing to adjust).

Items are the unit, as in every test: with repeats an item's score is its mean over them.
`direction` filters the items: `a` (a scored higher), `b` (b did) or `both`; the counts are
always of both directions (and ties) over the items the other filters leave.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import EvalRun
from app.errors import AppError
from app.evals import stats as st
from app.evals.evidence import pair_sentence
from app.evals.items import expected_text
from app.evals.runner import current_summary
from app.evals.scores import ScoredItem, scored_items
from app.evals.scoring import QUALITY_METRICS
from app.evals.summary import find_pair, paired
from app.finetune.report import METRICS as BEFORE_AFTER_METRICS

DIRECTIONS = ("both", "a", "b")
ADAPTER_METRICS = BEFORE_AFTER_METRICS  # each held-out example's scores in the report
ADAPTER, BASE = "adapter", "base"


class WinsNotPossible(AppError):
    """422: a level, metric or direction the wins cannot be listed for."""

    status = 422


@dataclass
class Side:
    """One level's answer to an item: its score (mean over repeats), every repeat's output
    and the comparisons they were answered in."""

    score: float | None
    outputs: list[str | None]
    comparisons: list[int] = field(default_factory=list)


@dataclass
class ItemWin:
    item: int  # the eval item's id (an adapter's held-out example: its index)
    position: int  # its place in the eval set (or the held-out split), from 0
    kind: str
    input: str
    expected: str
    won: str  # "a" or "b"
    a: Side
    b: Side


@dataclass
class Wins:
    """The items one of `a` and `b` won on `metric`; `counts` has `a_won`, `b_won`, `same`
    and `common`; `test` is the paired test from a's side (as a summary's pair tests, with
    `a` and `b`), None when there is none; `sentence` says what it shows."""

    a: str
    b: str
    metric: str
    kind: str | None
    direction: str
    counts: dict[str, int]
    test: dict[str, Any] | None
    sentence: str | None
    items: list[ItemWin]
    note: str | None = None
    kinds: list[str] = field(default_factory=list)  # the kinds `kind` can choose from


def check_choice(
    a: str, b: str, levels: Sequence[str], metric: str, metrics: Sequence[str], direction: str
) -> None:
    """WinsNotPossible naming the bad choice and the valid ones."""
    if len(levels) < 2:
        raise WinsNotPossible(f"only one level to compare: {list(levels)}")
    for level in (a, b):
        if level not in levels:
            raise WinsNotPossible(f"level {level!r} is not one of {list(levels)}")
    if a == b:
        raise WinsNotPossible("choose two different levels")
    if metric not in metrics:
        raise WinsNotPossible(f"metric {metric!r} is not one of {list(metrics)}")
    if direction not in DIRECTIONS:
        raise WinsNotPossible(f"direction {direction!r} is not one of {list(DIRECTIONS)}")


def counts(split: st.ItemSplit) -> dict[str, int]:
    return {
        "a_won": len(split.a_higher),
        "b_won": len(split.b_higher),
        "same": len(split.same),
        "common": len(split.a_higher) + len(split.b_higher) + len(split.same),
    }


def shown(split: st.ItemSplit, direction: str) -> dict[Any, str]:
    """The items the direction shows, each with who won it."""
    won = {item: "a" for item in split.a_higher} | {item: "b" for item in split.b_higher}
    return {item: side for item, side in won.items() if direction in ("both", side)}


def from_side(test: Mapping[str, Any], a: str) -> dict[str, Any]:
    """A pair test as seen from level `a` (a summary stores each pair in one order)."""
    if test["a"] == a:
        return dict(test)

    def flip(value: float | None) -> float | None:
        return None if value is None else -value

    return {
        **test,
        "a": test["b"],
        "b": test["a"],
        "a_higher": test["b_higher"],
        "b_higher": test["a_higher"],
        "difference": flip(test["difference"]),
        "low": flip(test["high"]),
        "high": flip(test["low"]),
    }


def sentence(test: dict[str, Any] | None, metric: str) -> str | None:
    """What the test shows, as the report words it, as a sentence of its own."""
    if test is None:
        return None
    text = pair_sentence(test, test["a"], test["b"], metric)
    return text[0].upper() + text[1:]


# --- two levels of an eval run ---


def run_wins(
    session: Session,
    run: EvalRun,
    *,
    a: str | None = None,
    b: str | None = None,
    metric: str = "quality",
    kind: str | None = None,
    direction: str = "both",
) -> Wins:
    """The run's items that `a` or `b` (default: the run's first two levels) won on `metric`
    (of `kind`, or every kind), with the test the run's summary shows for the pair
    (WinsNotPossible for a bad choice)."""
    a = a or run.levels[0]
    b = b or next((lv for lv in run.levels if lv != a), a)
    check_choice(a, b, run.levels, metric, QUALITY_METRICS, direction)
    every = scored_items(session, run.id)
    scored = [s for s in every if kind is None or s.item.kind == kind]
    means = {lv: level_means(scored, lv, metric) for lv in (a, b)}
    split = st.split_items(means[a], means[b])
    test = summary_test(session, run, a, b, metric, kind)
    answers: dict[int, list[ScoredItem]] = defaultdict(list)
    for one in sorted(scored, key=lambda s: s.score.repeat):
        answers[one.item.id].append(one)
    won = sorted(shown(split, direction).items(), key=lambda p: answers[p[0]][0].item.position)
    return Wins(
        a=a,
        b=b,
        metric=metric,
        kind=kind,
        direction=direction,
        counts=counts(split),
        test=test,
        sentence=sentence(test, metric),
        items=[item_win(answers[item], side, (a, b), means) for item, side in won],
        kinds=sorted({s.item.kind for s in every}),
    )


def level_means(scored: Iterable[ScoredItem], level: str, metric: str) -> dict[Any, float]:
    """One level's score per item on `metric` (the mean over its repeats)."""
    pairs = ((s.item.id, s.score.metrics.get(metric)) for s in scored if s.score.level == level)
    return st.item_means(st.scores_by_item(pairs))


def summary_test(
    session: Session, run: EvalRun, a: str, b: str, metric: str, kind: str | None
) -> dict[str, Any] | None:
    """The pair's test in the run's summary (over the kind's items, or all), from a's side."""
    summary = current_summary(session, run)
    pairs = summary["kind_pairs"].get(kind, {}) if kind else summary["pairs"]
    test = find_pair(pairs.get(metric, []), a, b)
    return from_side(test, a) if test else None


def item_win(
    answers: list[ScoredItem],
    won: str,
    levels: tuple[str, str],
    means: dict[str, dict[Any, float]],
) -> ItemWin:
    """One item both levels answered (`answers`: every level's, in order of repeat)."""
    item = answers[0].item

    def side(level: str) -> Side:
        mine = [s for s in answers if s.score.level == level]
        return Side(
            score=means[level].get(item.id),
            outputs=[s.output for s in mine],
            comparisons=list(dict.fromkeys(c for s in mine if (c := s.score.comparison_id))),
        )

    return ItemWin(
        item.id, item.position, item.kind, item.input, expected_text(item), won, *map(side, levels)
    )


# --- an adapter before and after training ---


def adapter_wins(
    evaluation: dict[str, Any], *, metric: str = "field_match", direction: str = "both"
) -> Wins:
    """The held-out examples the adapter (`a`) or the base model (`b`) won on `metric`, from
    the adapter's before/after report; an empty list with a `note` when the report kept no
    per-item results (adapters trained before it did)."""
    check_choice(ADAPTER, BASE, (ADAPTER, BASE), metric, ADAPTER_METRICS, direction)
    per_item = evaluation.get("per_item")
    if not per_item:
        empty = {"a_won": 0, "b_won": 0, "same": 0, "common": 0}
        note = "this before/after report kept no per-item results: train the adapter again"
        return Wins(ADAPTER, BASE, metric, None, direction, empty, None, None, [], note)
    scores = {side: example_scores(per_item, side, metric) for side in (ADAPTER, BASE)}
    split = st.split_items(st.item_means(scores[ADAPTER]), st.item_means(scores[BASE]))
    tested = paired(scores[ADAPTER], scores[BASE])
    test = {"a": ADAPTER, "b": BASE, **asdict(tested)} if tested.n else None
    items = [
        example_win(index, per_item[index], side, metric)
        for index, side in sorted(shown(split, direction).items())
    ]
    return Wins(
        ADAPTER, BASE, metric, None, direction, counts(split), test, sentence(test, metric), items
    )


def example_scores(
    per_item: list[dict[str, Any]], side: str, metric: str
) -> dict[Any, list[float]]:
    """`{index: [score]}` of one side over the examples the metric applies to."""
    return st.scores_by_item((i, e["scores"][side].get(metric)) for i, e in enumerate(per_item))


def example_win(index: int, example: dict[str, Any], won: str, metric: str) -> ItemWin:
    def side(name: str) -> Side:
        return Side(score=example["scores"][name].get(metric), outputs=[example[name]])

    return ItemWin(
        index,
        index,
        "held-out",
        example["prompt"],
        example["reference"],
        won,
        side(ADAPTER),
        side(BASE),
    )
