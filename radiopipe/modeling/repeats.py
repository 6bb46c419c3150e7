"""Repeated outer CV: the out-of-fold AUC of each model in each repeat, and its spread.

With ``cv.outer_repeats`` > 1 every development patient is scored once per repeat; each repeat
is a complete out-of-fold estimate on its own, so the spread of the per-repeat AUCs shows how
much the estimate depends on the random fold assignment (``train/cv_repeats.csv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from radiopipe.contracts import OOF_SPLITS

REPEAT_COLUMNS = ("model", "split", "repeat", "n", "auc")
SPREAD_COLUMNS = ("model", "split", "repeats", "mean_auc", "sd_auc", "min_auc", "max_auc")


def per_repeat_auc(predictions: pd.DataFrame, n_folds: int) -> pd.DataFrame:
    """``model, split, repeat, n, auc`` of the out-of-fold rows (fold = repeat * k + j)."""
    oof = predictions[predictions["split"].isin(OOF_SPLITS) & (predictions["fold"] >= 0)]
    rows = []
    keys = [oof["model"], oof["split"], oof["fold"] // max(n_folds, 1)]
    for (model, split, repeat), group in oof.groupby(keys, sort=True):
        labels = group["label"].astype(int).to_numpy()
        auc = roc_auc_score(labels, group["probability"]) if len(np.unique(labels)) == 2 else np.nan
        rows.append((model, split, int(repeat), len(group), float(auc)))
    return pd.DataFrame(rows, columns=list(REPEAT_COLUMNS))


def repeat_spread(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and split: number of repeats, mean, SD (ddof 1; NaN for one), min, max AUC."""
    if table.empty:
        return pd.DataFrame(columns=list(SPREAD_COLUMNS))
    grouped = table.groupby(["model", "split"], sort=True)["auc"]
    out = grouped.agg(repeats="count", mean_auc="mean", sd_auc="std", min_auc="min",
                      max_auc="max").reset_index()  # fmt: skip
    return out[list(SPREAD_COLUMNS)]
