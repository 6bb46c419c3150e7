"""ROC curve points and the bootstrap band on an FPR grid."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from radiopipe.stats.bootstrap import StratifiedBootstrap
from radiopipe.stats.curves import roc_band, roc_points


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    y = (rng.random(60) < 0.5).astype(int)
    return y, np.round(rng.normal(size=60) + y, 1)  # ties: diagonal ROC segments


def test_band_curve_is_the_interpolated_empirical_curve(data) -> None:
    y, s = data
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    band = roc_band(y, s, n_resamples=200)
    np.testing.assert_allclose(band["tpr"], np.interp(band["fpr"], fpr, tpr), atol=1e-12)
    assert band["tpr"].iloc[-1] == 1.0
    assert np.all(np.diff(band["tpr"]) >= -1e-12)


def test_band_is_the_pointwise_percentile_of_resampled_curves(data) -> None:
    y, s = data
    grid = np.array([0.0, 0.1, 0.25, 0.5, 0.9])
    idx = StratifiedBootstrap(y, 300, seed=5).indices()
    curves = []
    for i in idx:
        fpr, tpr, _ = roc_curve(y[i], s[i], drop_intermediate=False)
        curves.append(np.interp(grid, fpr, tpr))
    low, high = np.quantile(np.array(curves), [0.025, 0.975], axis=0)
    band = roc_band(y, s, grid, n_resamples=300, seed=5)
    np.testing.assert_allclose(band["tpr_ci_low"], low, atol=1e-12)
    np.testing.assert_allclose(band["tpr_ci_high"], high, atol=1e-12)
    assert np.all(band["tpr_ci_low"] <= band["tpr"] + 1e-12)
    assert np.all(band["tpr"] <= band["tpr_ci_high"] + 1e-12)


def test_roc_points_are_sklearns(data) -> None:
    y, s = data
    points = roc_points(y, s)
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_array_equal(points["fpr"], fpr)
    np.testing.assert_array_equal(points["tpr"], tpr)
    np.testing.assert_array_equal(points["threshold"], thresholds)
