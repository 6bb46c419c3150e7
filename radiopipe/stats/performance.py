"""The performance table (the study's Table 3) from the long predictions table.

One row per model and split: AUC with DeLong and stratified bootstrap CIs; accuracy,
sensitivity, specificity, precision, NPV and F1 with bootstrap CIs at the model's frozen
threshold; the paired DeLong p against the reference model (``stack``) with Holm's
adjustment over the models of the split; for pooled CV splits the per-fold AUCs' mean and SD.

The frozen threshold of a model comes from, in order: ``thresholds.json``; the maximum
Youden index on the model's ``train_oof`` predictions; on its ``train`` predictions
(apparent); on its pooled ``cv`` predictions. Column ``threshold_source`` says which.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.contracts import ContractError, Split, check_thresholds
from radiopipe.stats.bootstrap import DEFAULT_RESAMPLES, auc_bootstrap_ci
from radiopipe.stats.checks import StatsInputError
from radiopipe.stats.comparisons import DEFAULT_REFERENCE, paired_comparisons, split_seed
from radiopipe.stats.delong import auc_delong
from radiopipe.stats.predictions import (
    POOLED_SPLITS,
    Scores,
    fold_rows,
    models_in,
    scores,
    splits_in,
)
from radiopipe.stats.thresholds import (
    METRICS,
    threshold_metrics,
    threshold_metrics_ci,
    youden_threshold,
)

log = logging.getLogger(__name__)

THRESHOLD_SPLITS = (Split.TRAIN_OOF, Split.TRAIN, Split.CV)


def read_thresholds(path: str | Path) -> dict[str, float]:
    """Read ``thresholds.json`` (``{model: threshold}``), checking every value."""
    path = Path(path)
    if not path.is_file():
        raise StatsInputError(f"{path}: thresholds file does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise StatsInputError(f"{path}: not valid JSON ({err})") from None
    try:
        return check_thresholds(data, path)
    except ContractError as err:
        raise StatsInputError(str(err)) from None


FOLD_THRESHOLD_COLUMNS = ("model", "fold", "threshold")
PER_FOLD_SOURCE = "per fold: max Youden on inner OOF of its training patients (median shown)"


def read_fold_thresholds(path: str | Path) -> pd.DataFrame:
    """Read train's ``fold_thresholds.csv`` (model, fold, threshold), checking it."""
    path = Path(path)
    if not path.is_file():
        raise StatsInputError(f"{path}: fold thresholds file does not exist")
    table = pd.read_csv(path)
    missing = [c for c in FOLD_THRESHOLD_COLUMNS if c not in table.columns]
    if missing:
        raise StatsInputError(f"{path}: missing column(s) {', '.join(missing)}")
    bad = ~table["threshold"].between(0, 1)
    if bad.any():
        raise StatsInputError(
            f"{path}: threshold outside [0, 1] in row(s) {list(table.index[bad])}"
        )
    return table


def per_fold_margins(frame: pd.DataFrame, fold_thresholds: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` with each ``cv`` row of a model with per-fold thresholds re-expressed as
    ``clip(p - threshold_of_its_fold + 0.5, 0, 1)``: classifying it at 0.5 is classifying the
    probability at its own fold's threshold (repeats pooled by the mean margin)."""
    if fold_thresholds is None or fold_thresholds.empty:
        return frame
    lookup = fold_thresholds.set_index(["model", "fold"])["threshold"]
    rows = (frame["split"] == Split.CV) & frame["model"].isin(set(fold_thresholds["model"]))
    keys = pd.MultiIndex.from_arrays([frame.loc[rows, "model"], frame.loc[rows, "fold"]])
    found = lookup.reindex(keys).to_numpy()
    if np.isnan(found).any():
        absent = sorted({f"{m} fold {f}" for (m, f), t in zip(keys, found, strict=True)
                         if np.isnan(t)})  # fmt: skip
        raise StatsInputError(f"no per-fold threshold for {', '.join(absent[:10])}")
    out = frame.copy()
    out.loc[rows, "probability"] = np.clip(out.loc[rows, "probability"] - found + 0.5, 0.0, 1.0)
    return out


def resolve_thresholds(
    frame: pd.DataFrame, thresholds: Mapping[str, float] | None = None
) -> dict[str, tuple[float, str]]:
    """Each model's frozen threshold and where it came from."""
    given = dict(thresholds or {})
    unknown = sorted(set(given) - set(frame["model"]))
    if unknown:
        log.warning("thresholds given for model(s) without predictions: %s", ", ".join(unknown))
    resolved: dict[str, tuple[float, str]] = {}
    for model in models_in(frame):
        if model in given:
            resolved[model] = (given[model], "thresholds.json")
            continue
        splits = set(frame.loc[frame["model"] == model, "split"])
        source = next((s for s in THRESHOLD_SPLITS if s in splits), None)
        if source is None:
            raise StatsInputError(
                f"model {model}: no threshold given and no train_oof, train or cv predictions "
                "to choose one on; pass --thresholds with a value for this model"
            )
        point = youden_threshold(*_labels_scores(frame, model, source))
        resolved[model] = (point.threshold, f"max Youden on {source}")
    return resolved


def _labels_scores(frame: pd.DataFrame, model: str, split: str) -> tuple[np.ndarray, ...]:
    found = scores(frame, model, split)
    return found.y, found.p, found.where


def fold_auc_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-fold AUC of every model on the pooled splits (``cv``, ``train_oof``)."""
    rows = []
    for split in [s for s in splits_in(frame) if s in POOLED_SPLITS]:
        for model in models_in(frame.loc[frame["split"] == split]):
            for fold, part in fold_rows(frame, model, split).items():
                y = part["label"].to_numpy()
                n_cases = int(y.sum())
                auc = float("nan")
                if 0 < n_cases < y.size:
                    auc = auc_delong(y, part["probability"].to_numpy()).auc
                else:
                    log.warning("model %s, %s fold %d: one class only, no AUC", model, split, fold)
                rows.append(
                    {"model": model, "split": split, "fold": fold, "n": int(y.size),
                     "n_cases": n_cases, "auc": auc}
                )  # fmt: skip
    return pd.DataFrame(rows, columns=["model", "split", "fold", "n", "n_cases", "auc"])


def performance_table(
    predictions: pd.DataFrame,
    thresholds: Mapping[str, float] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
    reference: str = DEFAULT_REFERENCE,
    comparisons: pd.DataFrame | None = None,
    fold_thresholds: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Table 3: one row per model and split (see the module docstring for the columns).

    ``predictions`` must have passed :func:`radiopipe.stats.predictions.check_predictions`;
    ``comparisons`` (from :func:`paired_comparisons`) is computed when not given.
    ``fold_thresholds`` (model, fold, threshold; nested CV): the ``cv`` rows of those models
    are classified at their own fold's threshold, never at one chosen on the pooled rows.
    """
    frozen = resolve_thresholds(predictions, thresholds)
    margins = per_fold_margins(predictions, fold_thresholds)
    per_fold = set() if fold_thresholds is None else set(fold_thresholds["model"])
    if comparisons is None:
        comparisons = paired_comparisons(predictions, reference, confidence, n_resamples, seed)
    folds = fold_auc_table(predictions)
    rows = []
    for split in splits_in(predictions):
        for model in models_in(predictions.loc[predictions["split"] == split]):
            found = scores(predictions, model, split)
            threshold, source = frozen[model]
            classified = found
            if split == Split.CV and model in per_fold:
                classified = scores(margins, model, split)
                mine = fold_thresholds.loc[fold_thresholds["model"] == model, "threshold"]
                shown, source, cut = float(mine.median()), PER_FOLD_SOURCE, 0.5
            else:
                shown, cut = threshold, threshold
            rows.append(
                {
                    "model": model,
                    "split": split,
                    **_auc_columns(found, n_resamples, seed, confidence),
                    "threshold": shown,
                    "threshold_source": source,
                    **_metric_columns(classified, cut, n_resamples, seed, confidence),
                    **_fold_columns(folds, model, split),
                }
            )
    table = pd.DataFrame(rows)
    table = _attach_comparisons(table, comparisons, reference)
    table["auc_text"] = [
        f"{a:.3f} ({lo:.3f}–{hi:.3f})"
        for a, lo, hi in zip(table["auc"], table["auc_ci_low"], table["auc_ci_high"], strict=True)
    ]
    return table


def _auc_columns(found: Scores, n_resamples: int, seed: int, confidence: float) -> dict[str, float]:
    y, p, where, split = found.y, found.p, found.where, found.split
    delong = auc_delong(y, p, confidence, where=where)
    boot = auc_bootstrap_ci(y, p, n_resamples, split_seed(seed, split), confidence, where=where)
    return {
        "n": delong.n_cases + delong.n_controls,
        "n_cases": delong.n_cases,
        "n_controls": delong.n_controls,
        "auc": delong.auc,
        "auc_se": math.sqrt(delong.variance) if delong.variance >= 0 else math.nan,
        "auc_ci_low": delong.ci_low,
        "auc_ci_high": delong.ci_high,
        "auc_boot_ci_low": boot.ci_low,
        "auc_boot_ci_high": boot.ci_high,
    }


def _metric_columns(
    found: Scores, threshold: float, n_resamples: int, seed: int, confidence: float
) -> dict[str, float]:
    y, p, where, split = found.y, found.p, found.where, found.split
    counts = threshold_metrics(y, p, threshold, where)
    cis = threshold_metrics_ci(
        y, p, threshold, n_resamples, split_seed(seed, split), confidence, where
    ).set_index("metric")
    out: dict[str, float] = {}
    for metric in METRICS:
        out[metric] = counts[metric]
        out[f"{metric}_ci_low"] = float(cis.loc[metric, "ci_low"])
        out[f"{metric}_ci_high"] = float(cis.loc[metric, "ci_high"])
    out.update({k: counts[k] for k in ("tp", "fp", "tn", "fn")})
    return out


def _fold_columns(folds: pd.DataFrame, model: str, split: str) -> dict[str, float]:
    mine = folds.loc[(folds["model"] == model) & (folds["split"] == split), "auc"].dropna()
    if mine.empty:
        return {"n_folds": 0, "fold_auc_mean": math.nan, "fold_auc_sd": math.nan}
    sd = float(mine.std(ddof=1)) if mine.size > 1 else math.nan
    return {"n_folds": int(mine.size), "fold_auc_mean": float(mine.mean()), "fold_auc_sd": sd}


def _attach_comparisons(
    table: pd.DataFrame, comparisons: pd.DataFrame, reference: str
) -> pd.DataFrame:
    paired = comparisons.loc[comparisons["comparison"] == "paired"]
    picked = paired.loc[:, ["split", "model", "difference", "p_value", "p_holm"]].rename(
        columns={
            "difference": "auc_diff_vs_reference",
            "p_value": "delong_p",
            "p_holm": "delong_p_holm",
        }
    )
    merged = table.merge(picked, on=["split", "model"], how="left")
    merged.insert(merged.columns.get_loc("auc_diff_vs_reference"), "reference", reference)
    return merged
