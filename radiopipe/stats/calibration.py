"""Calibration: Brier score, calibration intercept and slope, reliability curve.

* Calibration intercept (calibration-in-the-large): ``logit P(y=1) = a + logit(p)``, a
  logistic model with ``logit(p)`` as offset; 0 when the mean risk is right.
* Calibration slope: ``logit P(y=1) = a + b logit(p)``; 1 when the spread of the risks is
  right, below 1 when they are too extreme (overfitting).
* Reliability curve: quantile bins of the predicted probability, the mean prediction and the
  observed event rate per bin, with a Wilson interval for the rate.

Probabilities of exactly 0 or 1 are clipped to ``[1e-15, 1 - 1e-15]`` before the logit.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import numpy.typing as npt
import pandas as pd

from radiopipe.stats.checks import StatsInputError, binary_labels, probabilities

CLIP = 1e-15
log = logging.getLogger(__name__)


def _checked(y: npt.ArrayLike, p: npt.ArrayLike, where: str) -> tuple[np.ndarray, np.ndarray]:
    labels = binary_labels(y, where)
    probs = probabilities(p, where)
    if labels.shape != probs.shape:
        raise StatsInputError(
            f"{where + ': ' if where else ''}{labels.size} labels but {probs.size} probabilities"
        )
    if labels.size == 0:
        raise StatsInputError(f"{where + ': ' if where else ''}no patients to assess")
    return labels, probs


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) after clipping away from 0 and 1."""
    clipped = np.clip(p, CLIP, 1 - CLIP)
    return np.log(clipped / (1 - clipped))


def brier_score(y: npt.ArrayLike, p: npt.ArrayLike, where: str = "") -> float:
    """Mean squared difference between the predicted probability and the outcome."""
    from sklearn.metrics import brier_score_loss

    labels, probs = _checked(y, p, where)
    return float(brier_score_loss(labels, probs, pos_label=1))


def calibration_intercept_slope(
    y: npt.ArrayLike, p: npt.ArrayLike, confidence: float = 0.95, where: str = ""
) -> dict[str, float]:
    """Calibration intercept and slope with Wald CIs (logistic GLMs, statsmodels)."""
    import statsmodels.api as sm

    labels, probs = _checked(y, p, where)
    lp = logit(probs)
    alpha = 1 - confidence
    result = dict.fromkeys(
        (
            "intercept", "intercept_ci_low", "intercept_ci_high",
            "slope", "slope_ci_low", "slope_ci_high",
        ),
        float("nan"),
    )  # fmt: skip
    if labels.min() == labels.max():
        return result  # one class only: the logistic fits do not exist
    # Newton on the log-likelihood (statsmodels Logit): IRLS (GLM) can diverge silently when
    # predictions of 0 or 1 put extreme values in the offset.
    large = _fit_logit(sm.Logit(labels, np.ones((labels.size, 1)), offset=lp), where)
    slope = _fit_logit(sm.Logit(labels, sm.add_constant(lp, has_constant="add")), where)
    if large is not None:
        ci = np.asarray(large.conf_int(alpha))
        result.update(
            intercept=float(large.params[0]),
            intercept_ci_low=float(ci[0, 0]),
            intercept_ci_high=float(ci[0, 1]),
        )
    if slope is not None:
        ci = np.asarray(slope.conf_int(alpha))
        result.update(
            slope=float(slope.params[1]),
            slope_ci_low=float(ci[1, 0]),
            slope_ci_high=float(ci[1, 1]),
        )
    return result


def _fit_logit(model: object, where: str) -> object | None:
    """Fit a statsmodels Logit quietly; None (logged) when it does not converge."""
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    with warnings.catch_warnings():  # non-convergence is checked and logged below
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            fitted = model.fit(disp=0, maxiter=100)  # type: ignore[attr-defined]
        except (PerfectSeparationError, np.linalg.LinAlgError):
            fitted = None
    if fitted is None or not fitted.mle_retvals.get("converged", False):
        log.warning("%s: calibration fit did not converge (separable data?)", where or "model")
        return None
    return fitted


def calibration_summary(
    y: npt.ArrayLike, p: npt.ArrayLike, confidence: float = 0.95, where: str = ""
) -> dict[str, float]:
    """Brier score, mean prediction vs event rate, calibration intercept and slope."""
    labels, probs = _checked(y, p, where)
    return {
        "n": int(labels.size),
        "events": int(labels.sum()),
        "mean_predicted": float(probs.mean()),
        "observed_rate": float(labels.mean()),
        "brier": brier_score(labels, probs, where),
        "brier_reference": float(labels.mean() * (1 - labels.mean())),
        **calibration_intercept_slope(labels, probs, confidence, where),
    }


def reliability_curve(
    y: npt.ArrayLike,
    p: npt.ArrayLike,
    n_bins: int = 10,
    strategy: str = "quantile",
    confidence: float = 0.95,
    where: str = "",
) -> pd.DataFrame:
    """Reliability diagram data, one row per non-empty bin.

    Bins as scikit-learn's ``calibration_curve`` (``quantile``: equal-count bins from the
    predicted probabilities; ``uniform``: equal-width bins on [0, 1]). Columns: ``bin,
    bin_low, bin_high, n, mean_predicted, observed, observed_ci_low, observed_ci_high``.
    """
    from statsmodels.stats.proportion import proportion_confint

    labels, probs = _checked(y, p, where)
    if n_bins < 1:
        raise StatsInputError(f"reliability curve needs >= 1 bin, got {n_bins}")
    if strategy == "quantile":
        edges = np.percentile(probs, np.linspace(0, 1, n_bins + 1) * 100)
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        raise StatsInputError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    ids = np.searchsorted(edges[1:-1], probs)  # as scikit-learn: bin k is (edge k, edge k+1]
    counts = np.bincount(ids, minlength=n_bins)
    sum_p = np.bincount(ids, weights=probs, minlength=n_bins)
    sum_y = np.bincount(ids, weights=labels, minlength=n_bins)
    keep = np.flatnonzero(counts > 0)
    events, totals = sum_y[keep].astype(int), counts[keep]
    low, high = proportion_confint(events, totals, alpha=1 - confidence, method="wilson")
    low = np.where(events == 0, 0.0, low)  # exact bounds instead of rounding noise
    high = np.where(events == totals, 1.0, high)
    return pd.DataFrame(
        {
            "bin": keep,
            "bin_low": edges[keep],
            "bin_high": edges[keep + 1],
            "n": counts[keep],
            "mean_predicted": sum_p[keep] / counts[keep],
            "observed": sum_y[keep] / counts[keep],
            "observed_ci_low": np.asarray(low, dtype=float),
            "observed_ci_high": np.asarray(high, dtype=float),
        }
    )
