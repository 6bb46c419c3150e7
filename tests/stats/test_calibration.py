"""Calibration against statsmodels and scikit-learn fitted directly, and known behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.calibration import calibration_curve

from radiopipe.stats.calibration import (
    brier_score,
    calibration_intercept_slope,
    calibration_summary,
    logit,
    reliability_curve,
)
from radiopipe.stats.checks import StatsInputError


def simulate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from the predicted probabilities themselves: perfectly calibrated."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-rng.normal(scale=1.5, size=n)))
    return (rng.random(n) < p).astype(int), p


def test_intercept_and_slope_equal_statsmodels_logit() -> None:
    y, p = simulate(400, 0)
    p = np.clip(p * 1.3, 0, 1)  # miscalibrated, with many predictions of exactly 1
    ours = calibration_intercept_slope(y, p)
    lp = logit(p)
    large = sm.Logit(y, np.ones((y.size, 1)), offset=lp).fit(disp=0)
    slope = sm.Logit(y, sm.add_constant(lp)).fit(disp=0)
    assert ours["intercept"] == pytest.approx(large.params[0], rel=1e-6)
    assert ours["slope"] == pytest.approx(slope.params[1], rel=1e-6)
    ci = slope.conf_int(0.05)
    assert (ours["slope_ci_low"], ours["slope_ci_high"]) == pytest.approx(tuple(ci[1]), rel=1e-5)
    ci = large.conf_int(0.05)
    assert ours["intercept_ci_low"] == pytest.approx(ci[0][0], rel=1e-5)


def test_glm_and_logit_agree_on_ordinary_data() -> None:
    y, p = simulate(400, 5)
    ours = calibration_intercept_slope(y, 0.8 * p + 0.1)
    lp = logit(0.8 * p + 0.1)
    family = sm.families.Binomial()
    large = sm.GLM(y, np.ones((y.size, 1)), family=family, offset=lp).fit()
    slope = sm.GLM(y, sm.add_constant(lp), family=family).fit()
    assert ours["intercept"] == pytest.approx(large.params[0], rel=1e-6)
    assert ours["slope"] == pytest.approx(slope.params[1], rel=1e-6)


def test_calibrated_and_overfitted_predictions() -> None:
    y, p = simulate(20_000, 1)
    good = calibration_intercept_slope(y, p)
    assert good["intercept"] == pytest.approx(0, abs=0.06)
    assert good["slope"] == pytest.approx(1, abs=0.06)
    assert good["slope_ci_low"] < 1 < good["slope_ci_high"]
    extreme = 1 / (1 + np.exp(-2 * logit(p)))  # risks twice as extreme: overfitting
    assert calibration_intercept_slope(y, extreme)["slope"] == pytest.approx(0.5, abs=0.04)


def test_brier_and_summary() -> None:
    y, p = simulate(300, 2)
    assert brier_score(y, p) == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)
    summary = calibration_summary(y, p)
    assert summary["n"] == 300
    assert summary["events"] == y.sum()
    assert summary["observed_rate"] == pytest.approx(y.mean())
    assert summary["brier_reference"] == pytest.approx(y.mean() * (1 - y.mean()))


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_reliability_curve_matches_sklearn(strategy: str) -> None:
    y, p = simulate(500, 3)
    p = np.round(p, 2)  # ties at bin edges
    curve = reliability_curve(y, p, n_bins=8, strategy=strategy)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=8, strategy=strategy)
    np.testing.assert_allclose(curve["observed"], prob_true, rtol=1e-12)
    np.testing.assert_allclose(curve["mean_predicted"], prob_pred, rtol=1e-12)
    assert curve["n"].sum() == 500
    assert np.all(curve["observed_ci_low"] <= curve["observed"])
    assert np.all(curve["observed"] <= curve["observed_ci_high"])


def test_probabilities_of_zero_and_one_are_usable() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    p = np.array([0.0, 0.1, 0.9, 1.0, 0.4, 0.6, 0.3, 0.7])
    result = calibration_intercept_slope(y, p)
    assert np.isfinite(result["slope"]) and np.isfinite(result["intercept"])


def test_bad_probabilities_are_named() -> None:
    with pytest.raises(StatsInputError, match=r"model rf: probabilities must lie in \[0, 1\]"):
        brier_score([0, 1], [0.2, 1.2], where="model rf")
    with pytest.raises(StatsInputError, match="bin"):
        reliability_curve([0, 1], [0.2, 0.8], n_bins=0)
