"""DeLong AUC, variance and tests against the O(m n) definition, sklearn, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from radiopipe.stats.checks import StatsInputError
from radiopipe.stats.delong import (
    auc_delong,
    delong_covariance,
    delong_test,
    delong_test_unpaired,
    resolve_direction,
)


def kernel_delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong 1988 straight from the definition: pairwise kernel, placements, covariances."""
    cases, controls = scores[:, y == 1], scores[:, y == 0]
    m, n = cases.shape[1], controls.shape[1]
    psi = (cases[:, :, None] > controls[:, None, :]) + 0.5 * (
        cases[:, :, None] == controls[:, None, :]
    )
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    aucs = psi.mean(axis=(1, 2))
    k = scores.shape[0]
    cov = np.empty((k, k))
    for r in range(k):
        for s in range(k):
            s10 = np.sum((v10[r] - aucs[r]) * (v10[s] - aucs[s])) / (m - 1)
            s01 = np.sum((v01[r] - aucs[r]) * (v01[s] - aucs[s])) / (n - 1)
            cov[r, s] = s10 / m + s01 / n
    return aucs, cov


@pytest.fixture
def tied_scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = (rng.random(80) < 0.4).astype(int)
    base = rng.normal(size=80) + y
    scores = np.vstack([np.round(base, 0), np.round(base + rng.normal(size=80), 1), -base])
    return y, scores


def test_midrank_algorithm_equals_pairwise_definition(tied_scores) -> None:
    y, scores = tied_scores
    aucs, cov, directions = delong_covariance(y, scores)
    ref_aucs, ref_cov = kernel_delong(y, scores)
    np.testing.assert_allclose(aucs, ref_aucs, rtol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10, atol=1e-16)
    assert directions == ["<", "<", "<"]


def test_auc_matches_sklearn_with_ties(tied_scores) -> None:
    y, scores = tied_scores
    for row in scores:
        assert auc_delong(y, row).auc == pytest.approx(roc_auc_score(y, row), rel=1e-12)


def test_direction_greater_and_auto(tied_scores) -> None:
    y, scores = tied_scores
    below = auc_delong(y, scores[2])  # reversed marker: AUC below 0.5 with '<'
    above = auc_delong(y, scores[2], direction=">")
    assert below.auc < 0.5
    assert above.auc == pytest.approx(1 - below.auc, rel=1e-12)
    assert above.variance == pytest.approx(below.variance, rel=1e-12)
    assert resolve_direction(y, scores[2], "auto") == ">"
    assert auc_delong(y, scores[2], direction="auto").auc == pytest.approx(above.auc)


def test_paired_test_is_consistent_with_covariance(tied_scores) -> None:
    y, scores = tied_scores
    aucs, cov, _ = delong_covariance(y, scores[:2])
    result = delong_test(y, scores[0], scores[1], confidence=0.9)
    se = np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert result.se == pytest.approx(se, rel=1e-12)
    assert result.z == pytest.approx((aucs[0] - aucs[1]) / se, rel=1e-12)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(result.z)), rel=1e-12)
    assert result.p_greater + result.p_less == pytest.approx(1.0)
    half = stats.norm.ppf(0.95) * se
    assert (result.ci_low, result.ci_high) == pytest.approx((result.difference - half,
                                                             result.difference + half))  # fmt: skip
    swapped = delong_test(y, scores[1], scores[0])
    assert swapped.z == pytest.approx(-result.z)
    assert swapped.p_value == pytest.approx(result.p_value)


def test_unpaired_test_on_two_cohorts() -> None:
    rng = np.random.default_rng(5)
    y_a = np.r_[np.zeros(30), np.ones(25)].astype(int)
    y_b = np.r_[np.zeros(20), np.ones(20)].astype(int)
    s_a = rng.normal(size=55) + 1.5 * y_a
    s_b = rng.normal(size=40) + 0.5 * y_b
    result = delong_test_unpaired(y_a, s_a, y_b, s_b)
    first, second = auc_delong(y_a, s_a), auc_delong(y_b, s_b)
    assert result.difference == pytest.approx(first.auc - second.auc)
    total = first.variance + second.variance
    assert result.d == pytest.approx(result.difference / np.sqrt(total))
    df = total**2 / (first.variance**2 / 54 + second.variance**2 / 39)
    assert result.df == pytest.approx(df)
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(result.d), df))
    assert (result.n_a, result.n_b) == (55, 40)
    assert result.ci_low < result.difference < result.ci_high


def test_perfect_separation_gives_degenerate_but_finite_results() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    result = auc_delong(y, s)
    assert (result.auc, result.variance, result.ci_low, result.ci_high) == (1.0, 0.0, 1.0, 1.0)
    test = delong_test(y, s, s.copy())
    assert (test.z, test.p_value) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("y", "score", "message"),
    [
        ([0, 0, 0], [0.1, 0.2, 0.3], "only label 0"),
        ([1, 1], [0.1, 0.2], "only label 1"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "labels must be 0 or 1; row(s) 2 have 2"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "missing or infinite score for row(s) 1"),
        ([0, 1, 1], [0.1, 0.2], "3 labels but 2 scores"),
    ],
)
def test_bad_input_is_named(y, score, message) -> None:
    with pytest.raises(StatsInputError) as err:
        auc_delong(y, score, where="model svm, split internal_test")
    assert str(err.value).startswith("model svm, split internal_test: ")
    assert message in str(err.value)


def test_paired_test_needs_equal_lengths() -> None:
    with pytest.raises(StatsInputError, match="same patients"):
        delong_test([0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2])


def test_bad_direction_and_confidence() -> None:
    with pytest.raises(StatsInputError, match="direction"):
        auc_delong([0, 1], [0.1, 0.9], direction="up")
    with pytest.raises(StatsInputError, match="confidence"):
        auc_delong([0, 1], [0.1, 0.9], confidence=95)
