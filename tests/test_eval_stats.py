"""The statistics of app/evals/stats.py pinned to published values and to scipy's own results
computed here independently; the edge cases that must not pass for evidence."""

import numpy as np
import pytest
from scipy import stats as sp

from app.evals import stats


def by_item(values):
    return {n: float(v) for n, v in enumerate(values)}


# R. G. Newcombe, "Two-sided confidence intervals for the single proportion: comparison of
# seven methods", Statistics in Medicine 17 (1998) 857-872: the Wilson score interval
# (method 3) for the paper's examples 81/263, 15/148, 0/20 and 1/29.
@pytest.mark.parametrize(
    ("passes", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe(passes, n, low, high):
    assert stats.wilson_interval(passes, n) == pytest.approx((low, high), abs=5e-5)


def test_a_pass_fail_level_gets_wilson_and_all_pass_is_not_a_certainty():
    all_pass = stats.level_interval(by_item([1] * 10), pass_fail=True)
    # Wilson with every item passing: low = n / (n + z^2), high = 1
    assert all_pass.method == "wilson" and all_pass.mean == 1.0 and all_pass.items == 10
    assert all_pass.low == pytest.approx(10 / (10 + 1.959964**2)) and all_pass.high == 1.0
    none = stats.level_interval({}, pass_fail=True)
    assert none == stats.Interval(None, None, None, "none", 0)


def test_a_score_level_gets_a_reproducible_bootstrap_over_items():
    values = np.random.default_rng(7).random(40)
    interval = stats.level_interval(by_item(values), pass_fail=False)
    expected = sp.bootstrap(
        (values,), np.mean, n_resamples=9999, rng=np.random.default_rng(stats.SEED)
    ).confidence_interval
    assert interval.method == "bootstrap" and interval.items == 40
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high))
    assert interval.low < values.mean() < interval.high
    assert stats.level_interval(by_item(values), pass_fail=False) == interval  # fixed seed
    assert stats.bootstrap_interval([0.4] * 5) == (0.4, 0.4)
    one = stats.level_interval(by_item([0.5]), pass_fail=False)
    assert one.mean == 0.5 and one.low is None and one.high is None


def test_repeats_are_averaged_per_item_before_anything_is_counted():
    scores = stats.scores_by_item([(1, 1.0), (1, 0.0), (2, 1.0), (2, None), (3, None)])
    assert scores == {1: [1.0, 0.0], 2: [1.0]}  # None: not measured, item 3 never was
    assert stats.item_means(scores) == {1: 0.5, 2: 1.0}
    assert not stats.is_pass_fail(scores)  # item 1 has two answers: its mean is a rate
    assert stats.is_pass_fail({1: [1.0], 2: [0.0]}) and not stats.is_pass_fail({1: [0.5]})


def test_mcnemar_exact_is_the_binomial_test_on_discordant_items():
    # 1 item only a passed, 9 only b: P = 2 * (C(10,0) + C(10,1)) / 2**10 = 22 / 1024
    assert stats.mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert stats.mcnemar_exact(5, 5) == 1.0
    a = by_item([1] * 10 + [0] * 1 + [1] * 20 + [0] * 9)
    b = by_item([0] * 10 + [1] * 1 + [1] * 20 + [0] * 9)
    test = stats.paired_test(a, b, pass_fail=True)
    assert test.status == "tested" and test.test == "mcnemar" and test.n == 40
    assert (test.a_higher, test.b_higher) == (10, 1)
    assert test.p_value == pytest.approx(sp.binomtest(10, 11, 0.5).pvalue)
    assert test.difference == pytest.approx(9 / 40) and test.significant
    assert test.low < 9 / 40 < test.high


def test_wilcoxon_on_darwins_plants():
    # Darwin's Zea mays: differences in height (eighths of an inch) of cross- and
    # self-fertilised plants, from Fisher, The Design of Experiments (1935); the example in
    # scipy.stats.wilcoxon's documentation: W = 24, exact two-sided p = 0.041259765625.
    d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
    test = stats.paired_test(by_item(d), by_item([0] * len(d)), pass_fail=False)
    assert test.test == "wilcoxon" and test.p_value == pytest.approx(0.041259765625)
    assert test.difference == pytest.approx(np.mean(d)) and (test.a_higher, test.b_higher) == (
        13,
        2,
    )
    expected = sp.bootstrap(
        (np.array(d, dtype=float),), np.mean, rng=np.random.default_rng(stats.SEED)
    ).confidence_interval
    assert (test.low, test.high) == pytest.approx((expected.low, expected.high))


def test_no_discordant_items_is_no_difference_without_a_p_value():
    same = by_item([1, 0] * 10)
    test = stats.paired_test(same, same, pass_fail=True)
    assert test.status == "no_difference" and test.n == 20 and test.difference == 0.0
    assert test.p_value is None and test.p_adjusted is None and not test.significant
    assert test.items_needed is None


def test_too_few_items_get_no_test_but_an_estimate_of_what_would_do():
    test = stats.paired_test(by_item([1] * 5), by_item([0] * 5), pass_fail=True)
    assert test.status == "too_few_items" and test.n == 5 and test.p_value is None
    assert not test.significant and test.items_needed == stats.MIN_ITEMS
    empty = stats.paired_test({}, {}, pass_fail=True)
    assert empty.status == "too_few_items" and empty.n == 0 and empty.difference is None


def test_levels_on_different_items_are_compared_on_their_common_items():
    a = {n: 1.0 for n in range(0, 10)}
    b = {n: 0.0 for n in range(4, 14)}
    test = stats.paired_test(a, b, pass_fail=True)
    assert test.n == 6 and test.a_higher == 6 and test.difference == 1.0
    assert test.p_value == pytest.approx(2 / 2**6)
    split = stats.split_items({1: 1.0, 2: 0.0, 3: 0.5, 9: 1.0}, {1: 0.0, 2: 1.0, 3: 0.5})
    assert split == stats.ItemSplit(a_higher=[1], b_higher=[2], same=[3])


def test_holm_matches_worked_examples():
    # Holm's procedure on four hypotheses with p = 0.01, 0.04, 0.03, 0.005 (the worked
    # example of the Wikipedia article "Holm-Bonferroni method"): H4 and H1 are rejected at
    # 0.05, H3 and H2 are not. Adjusted: 4 x 0.005, 3 x 0.01, then max(2 x 0.03, 0.04).
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm") = 0.05 0.08 0.09 0.09 0.09
    adjusted = stats.holm([0.01, 0.02, 0.03, 0.04, 0.05])
    assert adjusted == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    assert stats.holm([0.6, 0.7]) == [1.0, 1.0] and stats.holm([]) == []


def test_holm_adjusts_only_the_pairs_that_were_tested():
    tested = stats.paired_test(by_item([1] * 8 + [0] * 2), by_item([0] * 10), pass_fail=True)
    untested = stats.paired_test(by_item([1] * 3), by_item([0] * 3), pass_fail=True)
    first, second, third = stats.holm_adjust([tested, untested, tested])
    assert first.p_value == tested.p_value and first.p_adjusted == pytest.approx(2 * tested.p_value)
    assert second == untested  # no p-value: not one of the hypotheses tested
    assert first.significant == (2 * tested.p_value < 0.05)


def test_items_needed_for_paired_proportions_follows_connor():
    # Connor (1987), Biometrics 43:207-211, p. 209, as worked in the powerandsamplesize.com
    # McNemar calculator: p10 = 0.05, p01 = 0.45, alpha 0.05 two-sided, power 0.8 -> 23.
    assert stats.mcnemar_items_needed(0.05, 0.45) == 23
    assert stats.mcnemar_items_needed(0.2, 0.2) is None  # no effect to detect
    assert stats.mcnemar_items_needed(1.0, 0.0) == stats.MIN_ITEMS  # never below a test


def test_items_needed_for_scores_uses_the_paired_mean_formula():
    # ((1.959964 + 0.841621) * 1 / 0.5)^2 = 31.4 -> 32 (a standardised effect of 0.5)
    assert stats.mean_difference_items_needed(0.5, 1.0) == 32
    assert stats.mean_difference_items_needed(-0.5, 1.0) == 32
    assert stats.mean_difference_items_needed(0.0, 1.0) is None
    rng = np.random.default_rng(3)
    a = rng.random(30)
    b = a - 0.05 + rng.normal(0, 0.2, 30)
    test = stats.paired_test(by_item(a), by_item(b), pass_fail=False)
    d = a - b
    assert test.items_needed == stats.mean_difference_items_needed(d.mean(), d.std(ddof=1))
