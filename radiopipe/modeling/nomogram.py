"""Nomogram tables of the combined model: points per predictor value, probability per total.

Each predictor j contributes c_j(v) = beta_j * v (numeric; the rad-score is one) or the
coefficient of its level (categorical; 0 for the reference). With m_j the smallest and r_j
the range of c_j over the axis values and R = max_j r_j, a value scores
``points = 100 * (c_j(v) - m_j) / R``; the total points T give the linear predictor
``intercept + sum_j m_j + T * R / 100`` and the probability its logistic. The tables are what
the figure draws, and what a reader uses by hand (:func:`nomogram_probability`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from radiopipe.modeling.clinical import CovariateCoder, LogitFit, level_text

RADSCORE = "radscore"
POINTS_COLUMNS = ("predictor", "kind", "value", "level", "points")
TOTAL_COLUMNS = ("total_points", "linear_predictor", "probability")
TOTAL_STEPS = 401


def _axis(low: float, high: float) -> np.ndarray:
    """Tick values covering [low, high] (round numbers)."""
    from matplotlib.ticker import MaxNLocator

    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return np.array([low, low + 1.0])
    ticks = MaxNLocator(nbins=8).tick_values(low, high)
    return np.asarray(ticks, dtype=np.float64)


def nomogram_tables(
    fit: LogitFit,
    coder: CovariateCoder,
    selected: list[str],
    radscores: np.ndarray,
    covariates: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(points table, total-points table) of the combined model.

    ``radscores`` and ``covariates`` are the values the axes must cover (every patient the
    model scores); the coefficients come from ``fit`` (terms ``radscore`` and the coder's
    design columns of ``selected``).
    """
    contributions: list[tuple[str, str, np.ndarray, list[str], np.ndarray]] = []
    values = _axis(float(np.min(radscores)), float(np.max(radscores)))
    contributions.append(
        (RADSCORE, "numeric", values, [""] * len(values), float(fit.params[RADSCORE]) * values)
    )
    for name in selected:
        if coder.is_categorical(name):
            levels = coder.levels_[name]
            coef = [0.0] + [float(fit.params[c]) for c in coder.columns(name)]
            contributions.append(
                (name, "categorical", np.full(len(levels), np.nan), levels, np.asarray(coef))
            )
        else:
            raw = pd.to_numeric(covariates[name], errors="coerce").dropna()
            values = _axis(float(raw.min()), float(raw.max()))
            contributions.append(
                (name, "numeric", values, [""] * len(values), float(fit.params[name]) * values)
            )
    ranges = [float(c.max() - c.min()) for *_, c in contributions]
    scale = max(max(ranges), 1e-12)
    rows = []
    for name, kind, values, levels, contrib in contributions:
        points = 100.0 * (contrib - contrib.min()) / scale
        rows += list(
            zip([name] * len(points), [kind] * len(points), values, levels, points, strict=True)
        )
    points = pd.DataFrame(rows, columns=list(POINTS_COLUMNS))
    offset = float(fit.params["(intercept)"]) + sum(float(c.min()) for *_, c in contributions)
    total = np.linspace(0.0, 100.0 * sum(ranges) / scale, TOTAL_STEPS)
    linear = offset + total * scale / 100.0
    totals = pd.DataFrame(
        {"total_points": total, "linear_predictor": linear, "probability": expit(linear)}
    )
    return points, totals


def predictor_points(points: pd.DataFrame, predictor: str, value: object) -> float:
    """The points of one predictor's value (numeric: read off its axis, linear between ticks)."""
    rows = points[points["predictor"] == predictor]
    if rows.empty:
        raise KeyError(f"the nomogram has no predictor {predictor!r}")
    if rows["kind"].iloc[0] == "categorical":
        match = rows[rows["level"].map(level_text) == level_text(value)]
        return float(match["points"].iloc[0]) if len(match) else 0.0
    x, y = rows["value"].to_numpy(float), rows["points"].to_numpy(float)
    slope = (y[-1] - y[0]) / (x[-1] - x[0])
    return float(y[0] + slope * (float(value) - x[0]))


def nomogram_probability(
    points: pd.DataFrame, totals: pd.DataFrame, values: dict[str, object]
) -> float:
    """The probability the nomogram gives: sum the points, read the total-points axis."""
    total = sum(
        predictor_points(points, name, values[name]) for name in points["predictor"].unique()
    )
    return float(np.interp(total, totals["total_points"], totals["probability"]))
