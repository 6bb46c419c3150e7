"""Per model and split tables from the predictions table: calibration, reliability, decision
curves and ROC curve points; the inputs of the report's plots."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from radiopipe.stats.bootstrap import DEFAULT_RESAMPLES
from radiopipe.stats.calibration import calibration_summary, reliability_curve
from radiopipe.stats.comparisons import models_on, split_seed
from radiopipe.stats.curves import DEFAULT_GRID, roc_band, roc_points
from radiopipe.stats.decision import DEFAULT_THRESHOLDS, decision_curve
from radiopipe.stats.predictions import paired, scores, splits_in


def _pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return [(model, split) for split in splits_in(frame) for model in models_on(frame, split)]


def calibration_table(frame: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Brier score, calibration intercept and slope (with CIs) per model and split."""
    rows = []
    for model, split in _pairs(frame):
        found = scores(frame, model, split)
        rows.append(
            {
                "model": model,
                "split": split,
                **calibration_summary(found.y, found.p, confidence, found.where),
            }
        )
    return pd.DataFrame(rows)


def reliability_table(
    frame: pd.DataFrame, n_bins: int = 10, strategy: str = "quantile", confidence: float = 0.95
) -> pd.DataFrame:
    """Reliability-curve bins per model and split."""
    parts = []
    for model, split in _pairs(frame):
        found = scores(frame, model, split)
        curve = reliability_curve(found.y, found.p, n_bins, strategy, confidence, found.where)
        parts.append(curve.assign(model=model, split=split))
    table = pd.concat(parts, ignore_index=True)
    return table.loc[
        :, ["model", "split", *[c for c in table.columns if c not in ("model", "split")]]
    ]


def decision_curve_table(
    frame: pd.DataFrame, thresholds: npt.ArrayLike = DEFAULT_THRESHOLDS
) -> pd.DataFrame:
    """Net benefit of every model, treat-all and treat-none, per split (same patients)."""
    parts = []
    for split in splits_in(frame):
        group = paired(frame, split, models_on(frame, split))
        curves = decision_curve(
            group[0].y, {s.model: s.p for s in group}, thresholds, where=f"split {split}"
        )
        parts.append(curves.assign(split=split))
    table = pd.concat(parts, ignore_index=True)
    return table.loc[:, ["split", *[c for c in table.columns if c != "split"]]]


def roc_curve_table(
    frame: pd.DataFrame,
    grid: npt.ArrayLike = DEFAULT_GRID,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """ROC curves for plotting: the empirical points and the bootstrap band on an FPR grid.

    Column ``curve`` is ``empirical`` (``fpr, tpr, threshold``; band columns NaN) or ``band``
    (``fpr`` on the grid, ``tpr`` of the curve, ``tpr_ci_low, tpr_ci_high``).
    """
    parts = []
    for model, split in _pairs(frame):
        found = scores(frame, model, split)
        points = roc_points(found.y, found.p, found.where).assign(
            curve="empirical", tpr_ci_low=np.nan, tpr_ci_high=np.nan
        )
        band = roc_band(
            found.y, found.p, grid, n_resamples, split_seed(seed, split), confidence, found.where
        ).assign(curve="band", threshold=np.nan)
        parts.append(pd.concat([points, band], ignore_index=True).assign(model=model, split=split))
    table = pd.concat(parts, ignore_index=True)
    columns = ["model", "split", "curve", "fpr", "tpr", "tpr_ci_low", "tpr_ci_high", "threshold"]
    return table.loc[:, columns]
