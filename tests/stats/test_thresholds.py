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


def test_youden_ties_go_to_the_highest_cut() -> None:
    """Equal Youden indices: the highest (most specific) cut; the train stage's name agrees."""
    from radiopipe.modeling.validation import youden_threshold as train_youden
    from radiopipe.stats.thresholds import youden_cut

    y = np.array([0, 1, 0, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4])  # cuts 0.4 and 0.2 both have J = 0.5
    point = youden_threshold(y, p)
    assert (point.cut, point.threshold, point.youden) == (0.4, 0.35, 0.5)
    assert youden_cut(y, p) == train_youden(y, p) == 0.4


def test_youden_ties_are_exact_not_split_by_rounding() -> None:
    """Cuts 1.1 (6 of 12 cases, 5 of 12 controls above) and 1.0 (7 and 6) tie at J = 1/12.

    Summed in floating point, sensitivity + specificity - 1 ranks 1.0 an ulp higher; the
    comparison in integers keeps the tie, so the highest cut (1.1) wins, as in the train stage.
    """
    from radiopipe.modeling.validation import youden_threshold as train_youden

    y = np.array([1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1])
    p = np.array([0.5, 1.9, 2.0, 0.1, 0.7, 0.3, 2.1, 1.1, 0.5, 0.1, 1.7, 0.7,
                  1.0, 0.6, 0.5, 0.2, 1.8, 2.1, 1.0, 1.5, 1.6, 1.7, 0.6, 1.5])  # fmt: skip
    floats = [(p >= c)[y == 1].mean() + (1.0 - (p >= c)[y == 0].mean()) - 1.0 for c in (1.1, 1.0)]
    assert floats[0] < floats[1]  # what an argmax over float indices would see
    point = youden_threshold(y, p)
    assert point.cut == 1.1 and point.threshold == pytest.approx(1.05)
    assert point.youden == pytest.approx(1 / 12)
    assert train_youden(y, p) == 1.1
