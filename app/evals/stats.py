"""How sure an eval can be: confidence intervals per level and paired tests between levels.
Pure functions over per-item scores (numpy and scipy only).

**Items are the unit; repeats are nested in them.** An eval run may answer each item N times
(`repeats`); those answers are not independent evidence, so each item's repeats are averaged
first (`item_means`: an item's pass rate, or its mean score) and every interval and test is
then computed over items. A metric is *pass/fail* only when every item was scored once and
each score is 0 or 1; with repeats an item's mean is a rate, and it is treated as a score.

Per level and metric (`level_interval`), a 95% confidence interval of the mean over items:
Wilson's score interval for pass/fail metrics, a bootstrap over items (BCa, `RESAMPLES`
resamples, fixed `SEED`, so a page shows the same interval every time) for scores.

Per pair of levels (`paired_test`), on the items both scored (levels compared on different
item sets are compared on their common items only, and the result says how many, `n`): the
difference of the means (a - b), its 95% bootstrap interval (the paired differences
resampled over items), and a p-value: McNemar's exact test (a binomial test on the items
only one level passed) for pass/fail metrics, Wilcoxon's signed-rank test on the per-item
differences for scores. `holm_adjust` adjusts the p-values of the pairs shown together
(Holm 1979); a pair is `significant` when its adjusted p-value is below `ALPHA`. Each pair
also estimates how many items would separate the two levels at the observed effect with
power `POWER` (`mcnemar_items_needed`, `mean_difference_items_needed`).

Bad input never passes for evidence: with fewer than `MIN_ITEMS` common items no outcome
could reach p < 0.05, so no test is run (status `too_few_items`); when the levels score the
same on every common item there is nothing to test (status `no_difference`). Neither carries
a p-value.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.8
CONFIDENCE = 0.95
RESAMPLES = 9999
SEED = 14  # any fixed seed: the same scores give the same interval on every page view
# With n pairs the smallest two-sided p an exact McNemar or signed-rank test can give is
# 2 / 2**n: 0.0625 for 5 pairs, 0.031 for 6. Fewer items than this cannot show a difference.
MIN_ITEMS = 6

TESTED = "tested"
TOO_FEW_ITEMS = "too_few_items"
NO_DIFFERENCE = "no_difference"

Item = Hashable
ItemScores = Mapping[Item, float]  # item -> its score (the mean over its repeats)


@dataclass(frozen=True)
class Interval:
    """A level's mean over `items` items and its 95% interval (`method` "wilson" or
    "bootstrap"; low and high None when there are too few items for one)."""

    mean: float | None
    low: float | None
    high: float | None
    method: str
    items: int


@dataclass(frozen=True)
class PairedTest:
    """Level a against level b on the `n` items both scored. `difference` is the mean of
    a - b; `low`, `high` its 95% interval; `test` "mcnemar" or "wilcoxon"; `p_adjusted` the
    Holm-adjusted p-value (after `holm_adjust`). `a_higher` / `b_higher`: the items where one
    level scored higher (for pass/fail, the discordant pairs)."""

    status: str
    n: int
    a_higher: int
    b_higher: int
    difference: float | None
    low: float | None
    high: float | None
    test: str | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool
    items_needed: int | None


@dataclass(frozen=True)
class ItemSplit:
    """The common items of two levels, by which scored higher (in `a`'s order)."""

    a_higher: list[Item]
    b_higher: list[Item]
    same: list[Item]


def scores_by_item(pairs: Iterable[tuple[Item, float | None]]) -> dict[Item, list[float]]:
    """`(item, score)` pairs (one per repeat) grouped by item; unmeasured (None) left out."""
    grouped: dict[Item, list[float]] = defaultdict(list)
    for item, score in pairs:
        if score is not None:
            grouped[item].append(float(score))
    return dict(grouped)


def item_means(scores: Mapping[Item, Sequence[float]]) -> dict[Item, float]:
    """Each item's mean over its repeats: the unit every interval and test counts."""
    return {item: sum(values) / len(values) for item, values in scores.items() if values}


def is_pass_fail(*levels: Mapping[Item, Sequence[float]]) -> bool:
    """True when every item of every level was scored once, 0 or 1."""
    return all(
        len(values) == 1 and values[0] in (0.0, 1.0)
        for scores in levels
        for values in scores.values()
    )


def wilson_interval(passes: int, n: int) -> tuple[float, float]:
    """Wilson's 95% score interval for `passes` out of `n` (n >= 1)."""
    ci = stats.binomtest(passes, n).proportion_ci(CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)


def bootstrap_interval(values: Sequence[float]) -> tuple[float, float]:
    """The 95% bootstrap interval (BCa; percentile where BCa is undefined) of the mean of
    `values` (two or more), resampled `RESAMPLES` times from `SEED`."""
    data = np.asarray(values, dtype=float)
    if np.ptp(data) == 0:  # every value the same: every resample has the same mean
        return float(data[0]), float(data[0])
    low, high = resampled(data, "BCa")
    if math.isnan(low) or math.isnan(high):
        low, high = resampled(data, "percentile")
    return low, high


def resampled(data: np.ndarray, method: str) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            (data,),
            np.mean,
            n_resamples=RESAMPLES,
            confidence_level=CONFIDENCE,
            method=method,
            rng=np.random.default_rng(SEED),
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def level_interval(means: ItemScores, pass_fail: bool) -> Interval:
    """One level's mean over items and its 95% interval: Wilson for pass/fail metrics,
    the bootstrap over items for scores (none below two items)."""
    values = list(means.values())
    if not values:
        return Interval(None, None, None, "none", 0)
    mean = sum(values) / len(values)
    if pass_fail:
        return Interval(
            mean, *wilson_interval(round(sum(values)), len(values)), "wilson", len(values)
        )
    if len(values) < 2:
        return Interval(mean, None, None, "bootstrap", 1)
    return Interval(mean, *bootstrap_interval(values), "bootstrap", len(values))


def common_items(a: ItemScores, b: ItemScores) -> list[Item]:
    """The items both levels scored, in `a`'s order."""
    return [item for item in a if item in b]


def split_items(a: ItemScores, b: ItemScores) -> ItemSplit:
    """The common items where a scored higher, where b did, and where they tied."""
    split = ItemSplit([], [], [])
    for item in common_items(a, b):
        if a[item] > b[item]:
            split.a_higher.append(item)
        elif a[item] < b[item]:
            split.b_higher.append(item)
        else:
            split.same.append(item)
    return split


def paired_test(a: ItemScores, b: ItemScores, pass_fail: bool) -> PairedTest:
    """Level a against level b on their common items (see the module docstring): McNemar's
    exact test for pass/fail scores, Wilcoxon's signed-rank test otherwise."""
    items = common_items(a, b)
    split = split_items(a, b)
    differences = [a[item] - b[item] for item in items]
    untested = PairedTest(
        status=TOO_FEW_ITEMS,
        n=len(items),
        a_higher=len(split.a_higher),
        b_higher=len(split.b_higher),
        difference=float(np.mean(differences)) if items else None,
        low=None,
        high=None,
        test=None,
        p_value=None,
        p_adjusted=None,
        significant=False,
        items_needed=items_needed(differences, pass_fail) if len(items) > 1 else None,
    )
    if len(items) < MIN_ITEMS:
        return untested
    if not split.a_higher and not split.b_higher:
        return replace(untested, status=NO_DIFFERENCE)
    if pass_fail:
        p_value, test = mcnemar_exact(len(split.a_higher), len(split.b_higher)), "mcnemar"
    else:
        p_value, test = float(stats.wilcoxon(differences).pvalue), "wilcoxon"
    low, high = bootstrap_interval(differences)
    return replace(
        untested,
        status=TESTED,
        low=low,
        high=high,
        test=test,
        p_value=p_value,
        p_adjusted=p_value,
        significant=p_value < ALPHA,
    )


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """McNemar's exact two-sided p-value: under no difference, each of the discordant
    items (one level passed, the other failed) is equally likely to favour either level, so
    `a_only` is Binomial(a_only + b_only, 1/2). Needs at least one discordant item."""
    return float(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue)


def holm_adjust(tests: Sequence[PairedTest]) -> list[PairedTest]:
    """The tests with Holm-adjusted p-values (across those that have a p-value) and
    `significant` set from the adjusted value."""
    tested = [i for i, t in enumerate(tests) if t.p_value is not None]
    adjusted = holm([tests[i].p_value or 0.0 for i in tested])
    result = list(tests)
    for i, p in zip(tested, adjusted, strict=True):
        result[i] = replace(tests[i], p_adjusted=p, significant=p < ALPHA)
    return result


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment (Holm 1979), in the input's order: the k-th smallest of m
    p-values is multiplied by m - k + 1, capped at 1, and never below the one before it."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def items_needed(differences: Sequence[float], pass_fail: bool) -> int | None:
    """Items a test would need to separate two levels at the observed per-item differences
    (power `POWER`, two-sided `ALPHA`); None when they show no difference at all."""
    n = len(differences)
    if pass_fail:
        return mcnemar_items_needed(
            sum(d > 0 for d in differences) / n, sum(d < 0 for d in differences) / n
        )
    return mean_difference_items_needed(
        float(np.mean(differences)), float(np.std(differences, ddof=1))
    )


def mcnemar_items_needed(
    a_only: float, b_only: float, alpha: float = ALPHA, power: float = POWER
) -> int | None:
    """Items (pairs) McNemar's test needs, from the shares of items only a passed (`a_only`,
    p10) and only b passed (`b_only`, p01): Connor's (1987) formula

        n = (z(1 - alpha/2) * sqrt(psi) + z(power) * sqrt(psi - delta**2))**2 / delta**2

    with psi = p10 + p01 (the discordant share) and delta = p10 - p01 (R. J. Connor, "Sample
    size for testing differences in proportions for the paired-sample design", Biometrics
    43(1), 1987, p. 209), rounded up, and at least `MIN_ITEMS`. None when delta is 0."""
    psi, delta = a_only + b_only, a_only - b_only
    if delta == 0:
        return None
    z_alpha, z_power = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    root = z_alpha * math.sqrt(psi) + z_power * math.sqrt(max(psi - delta**2, 0.0))
    return max(MIN_ITEMS, math.ceil(root**2 / delta**2))


def mean_difference_items_needed(
    difference: float, spread: float, alpha: float = ALPHA, power: float = POWER
) -> int | None:
    """Items a paired test of scores needs to detect a mean difference `difference` when the
    per-item differences have standard deviation `spread`: the normal approximation

        n = ((z(1 - alpha/2) + z(power)) * spread / difference)**2

    (the one-sample formula applied to paired differences, e.g. Chow, Shao & Wang, Sample
    Size Calculations in Clinical Research, 2nd ed., 2008, chapter 3), rounded up, at least
    `MIN_ITEMS`. The signed-rank test needs about as many (its asymptotic relative
    efficiency is 0.955 at the normal). None when the difference is 0."""
    if difference == 0:
        return None
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return max(MIN_ITEMS, math.ceil((z * spread / difference) ** 2))
