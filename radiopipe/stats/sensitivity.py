"""Harmonisation sensitivity table: each model's AUC (DeLong CI) per held-out split under
``estimate`` (as trained: unseen centres harmonised from their own unlabelled patients),
``passthrough`` (unseen centres left unadjusted) and ``none`` (pipeline refitted without ComBat
on the same folds)."""

from __future__ import annotations

import pandas as pd

from radiopipe.contracts import Split
from radiopipe.stats.delong import auc_delong
from radiopipe.stats.predictions import check_predictions, models_in, scores, splits_in

COLUMNS = ["split", "model", "harmonisation", "auc", "auc_ci_low", "auc_ci_high", "n"]
ORDER = ("estimate", "passthrough", "none")


def harmonisation_sensitivity(
    frame: pd.DataFrame, sensitivity: pd.DataFrame, confidence: float = 0.95
) -> pd.DataFrame:
    """One row per held-out split, model and harmonisation (apparent ``train`` rows left out).

    ``frame``: the checked predictions (estimate); ``sensitivity``: train's
    ``sensitivity_predictions.parquet`` (predictions columns + ``harmonisation``). Only models
    present under a variant are listed for it (deep models are not refitted).
    """
    variants = {"estimate": frame}
    for name in ORDER[1:]:
        rows = sensitivity.loc[sensitivity["harmonisation"] == name]
        if not rows.empty:
            variants[name] = check_predictions(
                rows.drop(columns="harmonisation"), f"sensitivity predictions ({name})"
            )
    refitted = set(sensitivity["model"])
    out = []
    for split in splits_in(frame):
        if split == Split.TRAIN:
            continue
        for model in models_in(frame.loc[frame["split"] == split]):
            if model not in refitted:
                continue
            for name, table in variants.items():
                if table.loc[(table["model"] == model) & (table["split"] == split)].empty:
                    continue
                found = scores(table, model, split)
                auc = auc_delong(found.y, found.p, confidence, where=found.where)
                out.append({
                    "split": str(split), "model": model, "harmonisation": name, "auc": auc.auc,
                    "auc_ci_low": auc.ci_low, "auc_ci_high": auc.ci_high,
                    "n": auc.n_cases + auc.n_controls,
                })  # fmt: skip
    return pd.DataFrame(out, columns=COLUMNS)
