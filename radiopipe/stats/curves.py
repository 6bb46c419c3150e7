"""ROC curve points for plotting: the empirical curve and a bootstrap band on an FPR grid.

The band is pointwise: at each false-positive rate of the grid, the percentile interval of
the true-positive rate over stratified bootstrap resamples (pROC's ``ci.se`` idea, on the
1 - specificity axis). Between ROC points the curve is linear, which draws tied scores as
the diagonal segments they are; at an FPR reached by several points the highest TPR is used.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from radiopipe.stats.bootstrap import (
    DEFAULT_RESAMPLES,
    RankedScore,
    StratifiedBootstrap,
    percentile_ci,
)
from radiopipe.stats.checks import labels_and_scores

DEFAULT_GRID = np.linspace(0.0, 1.0, 101)


def roc_points(y: npt.ArrayLike, score: npt.ArrayLike, where: str = "") -> pd.DataFrame:
    """The empirical ROC curve: ``fpr, tpr, threshold`` from the strictest cut down."""
    from sklearn.metrics import roc_curve

    labels, values = labels_and_scores(y, score, where)
    fpr, tpr, thresholds = roc_curve(labels, values, drop_intermediate=False)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thresholds})


def _curves_from_counts(cases: np.ndarray, controls: np.ndarray) -> tuple[np.ndarray, ...]:
    """FPR and TPR (b, K + 1) per row, from counts per ascending distinct value."""
    tp = np.cumsum(cases[:, ::-1], axis=1)
    fp = np.cumsum(controls[:, ::-1], axis=1)
    zero = np.zeros((cases.shape[0], 1))
    tpr = np.hstack([zero, tp / tp[:, -1:]])
    fpr = np.hstack([zero, fp / fp[:, -1:]])
    return fpr, tpr


def tpr_on_grid(fpr: np.ndarray, tpr: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Each row's TPR at the grid FPRs (b, G): piecewise linear, highest TPR at vertical steps."""
    b, k = fpr.shape
    offset = 2.0 * np.arange(b)[:, None]  # rows live in disjoint intervals after the shift
    flat_fpr = (fpr + offset).ravel()
    query = (grid[None, :] + offset).ravel()
    last = np.searchsorted(flat_fpr, query, side="right") - 1  # last point with fpr <= x
    row_start = (np.arange(b)[:, None] * k).repeat(grid.size, axis=1).ravel()
    nxt = np.minimum(last + 1, row_start + k - 1)
    x0, x1 = flat_fpr[last], flat_fpr[nxt]
    y0, y1 = tpr.ravel()[last], tpr.ravel()[nxt]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(x1 > x0, (y1 - y0) / (x1 - x0), 0.0)
    return (y0 + slope * (query - x0)).reshape(b, grid.size)


def roc_band(
    y: npt.ArrayLike,
    score: npt.ArrayLike,
    grid: npt.ArrayLike = DEFAULT_GRID,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | np.random.SeedSequence = 0,
    confidence: float = 0.95,
    where: str = "",
) -> pd.DataFrame:
    """TPR on an FPR grid with a pointwise stratified bootstrap band: ``fpr, tpr, low, high``."""
    labels, values = labels_and_scores(y, score, where)
    fpr_grid = np.clip(np.asarray(grid, dtype=float), 0.0, 1.0)
    ranked = RankedScore.build(labels, values, "<")
    everyone = (
        np.arange(ranked.case_codes.size)[None, :],
        np.arange(ranked.control_codes.size)[None, :],
    )
    point = tpr_on_grid(*_curves_from_counts(*ranked.counts(*everyone)), fpr_grid)[0]
    boot = StratifiedBootstrap(labels, n_resamples, seed)
    parts = [
        tpr_on_grid(*_curves_from_counts(*ranked.counts(c, d)), fpr_grid) for c, d in boot.blocks()
    ]
    low, high = percentile_ci(np.vstack(parts), confidence, axis=0)
    return pd.DataFrame({"fpr": fpr_grid, "tpr": point, "tpr_ci_low": low, "tpr_ci_high": high})
