"""Vectorised stratified bootstrap against a brute-force loop over the same resamples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from radiopipe.stats.bootstrap import (
    StratifiedBootstrap,
    auc_bootstrap_ci,
    bootstrap_auc,
    percentile_ci,
)
from radiopipe.stats.checks import StatsInputError
from radiopipe.stats.thresholds import threshold_metrics_ci


def pairwise_auc(y: np.ndarray, s: np.ndarray) -> float:
    """AUC by its definition: share of (case, control) pairs ranked right, ties one half."""
    cases, controls = s[y == 1][:, None], s[y == 0][None, :]
    return float(np.mean((cases > controls) + 0.5 * (cases == controls)))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    y = (rng.random(70) < 0.4).astype(int)
    a = np.round(rng.normal(size=70) + y, 1)  # ties on purpose
    b = rng.normal(size=70) + 0.5 * y
    return y, a, b


def test_resamples_are_stratified_and_seeded(data) -> None:
    y, _, _ = data
    idx = StratifiedBootstrap(y, 300, seed=4).indices()
    assert idx.shape == (300, y.size)
    assert np.all(y[idx].sum(axis=1) == y.sum())  # every resample keeps the class counts
    np.testing.assert_array_equal(idx, StratifiedBootstrap(y, 300, seed=4).indices())
    assert not np.array_equal(idx, StratifiedBootstrap(y, 300, seed=5).indices())
    # resamples draw with replacement: some patients repeat, some are left out
    assert np.mean([np.unique(row).size for row in idx]) < 0.8 * y.size


def test_vectorised_auc_equals_loop_over_the_same_resamples(data) -> None:
    y, a, b = data
    n = 600  # more than two blocks, the last one partial
    idx = StratifiedBootstrap(y, n, seed=0).indices()
    loop = np.array([[pairwise_auc(y[i], s[i]) for i in idx] for s in (a, b)])
    fast = bootstrap_auc(y, np.vstack([a, b]), n_resamples=n, seed=0)
    np.testing.assert_allclose(fast, loop, rtol=0, atol=1e-12)
    sklearn = [roc_auc_score(y[i], a[i]) for i in idx[:40]]
    np.testing.assert_allclose(fast[0, :40], sklearn, rtol=0, atol=1e-12)


def test_auc_ci_is_the_percentile_interval_of_the_loop(data) -> None:
    y, a, _ = data
    idx = StratifiedBootstrap(y, 2000, seed=7).indices()
    loop = np.array([pairwise_auc(y[i], a[i]) for i in idx])
    result = auc_bootstrap_ci(y, a, n_resamples=2000, seed=7, confidence=0.9)
    assert result.estimate == pytest.approx(roc_auc_score(y, a), rel=1e-12)
    assert result.ci_low == pytest.approx(np.quantile(loop, 0.05), abs=1e-12)
    assert result.ci_high == pytest.approx(np.quantile(loop, 0.95), abs=1e-12)
    assert result.ci_low < result.estimate < result.ci_high


def test_threshold_metric_cis_equal_loop(data) -> None:
    y, _, b = data
    p = 1 / (1 + np.exp(-b))
    threshold = 0.55
    idx = StratifiedBootstrap(y, 500, seed=2).indices()
    rows = []
    for i in idx:
        called, truth = p[i] >= threshold, y[i] == 1
        tp, fp = np.sum(called & truth), np.sum(called & ~truth)
        tn, fn = np.sum(~called & ~truth), np.sum(~called & truth)
        rows.append(
            {
                "accuracy": (tp + tn) / i.size,
                "sensitivity": tp / (tp + fn),
                "specificity": tn / (tn + fp),
                "precision": tp / (tp + fp) if tp + fp else np.nan,
                "npv": tn / (tn + fn) if tn + fn else np.nan,
                "f1": 2 * tp / (2 * tp + fp + fn),
            }
        )
    table = threshold_metrics_ci(y, p, threshold, n_resamples=500, seed=2).set_index("metric")
    for metric in table.index:
        values = np.array([r[metric] for r in rows], dtype=float)
        low, high = np.nanquantile(values, [0.025, 0.975])
        assert table.loc[metric, "ci_low"] == pytest.approx(low, abs=1e-12), metric
        assert table.loc[metric, "ci_high"] == pytest.approx(high, abs=1e-12), metric


def test_percentile_ci_skips_nan() -> None:
    low, high = percentile_ci(np.array([np.nan, 0.0, 1.0, 2.0, 3.0, 4.0]), 0.5)
    assert (low, high) == (1.0, 3.0)


def test_bad_bootstrap_settings() -> None:
    with pytest.raises(StatsInputError, match="resample"):
        StratifiedBootstrap(np.array([0, 1]), 0)
    with pytest.raises(StatsInputError, match="only label 0"):
        auc_bootstrap_ci([0, 0, 0], [0.1, 0.2, 0.3])
