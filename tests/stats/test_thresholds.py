"""Youden threshold and threshold metrics against brute force and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from radiopipe.stats.checks import StatsInputError
from radiopipe.stats.thresholds import (
    confusion_counts,
    threshold_metrics,
    youden_threshold,
)


def brute_force_youden(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Highest cut (a score value) with the maximum Youden index, by trying every score."""
    best_j, best_cut = -np.inf, None
    for cut in np.sort(np.unique(p))[::-1]:
        called = p >= cut
        j = called[y == 1].mean() + (~called[y == 0]).mean() - 1
        if j > best_j + 1e-15:
            best_j, best_cut = j, cut
    return best_j, best_cut


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_youden_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random(90) < 0.45).astype(int)
    p = np.round(1 / (1 + np.exp(-(rng.normal(size=90) + 1.2 * y))), 2)
    j, cut = brute_force_youden(y, p)
    point = youden_threshold(y, p)
    assert point.youden == pytest.approx(j, abs=1e-12)
    below = np.max(p[p < cut]) if np.any(p < cut) else cut
    assert point.threshold == pytest.approx((cut + below) / 2)
    # the midpoint classifies the set exactly as the chosen cut does
    np.testing.assert_array_equal(p >= point.threshold, p >= cut)
    counts = confusion_counts(y, p, point.threshold)
    assert counts["tp"] / y.sum() == pytest.approx(point.sensitivity)
    assert counts["tn"] / (y.size - y.sum()) == pytest.approx(point.specificity)


def test_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(9)
    y = (rng.random(120) < 0.4).astype(int)
    p = 1 / (1 + np.exp(-(rng.normal(size=120) + y)))
    m = threshold_metrics(y, p, 0.5)
    pred = (p >= 0.5).astype(int)
    assert m["sensitivity"] == pytest.approx(recall_score(y, pred))
    assert m["specificity"] == pytest.approx(recall_score(1 - y, 1 - pred))
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["npv"] == pytest.approx(precision_score(1 - y, 1 - pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["accuracy"] == pytest.approx(np.mean(pred == y))
    assert m["tp"] + m["fp"] + m["tn"] + m["fn"] == 120


def test_undefined_metric_is_nan_not_zero() -> None:
    m = threshold_metrics([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], threshold=0.9)
    assert np.isnan(m["precision"])  # nobody called positive
    assert m["sensitivity"] == 0.0
    assert m["specificity"] == 1.0


def test_threshold_must_be_finite() -> None:
    with pytest.raises(StatsInputError, match="finite"):
        threshold_metrics([0, 1], [0.2, 0.8], float("nan"))
