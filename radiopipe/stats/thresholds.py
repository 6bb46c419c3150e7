"""Operating points: the maximum-Youden threshold and metrics at a threshold, with bootstrap CIs.

A patient is called positive when ``probability >= threshold``. The Youden threshold is
reported as the midpoint between the chosen score and the next lower distinct score (pROC's
convention), so it classifies the set it was chosen on exactly as the chosen cut does and
sits between patients when frozen and applied to a test set; :func:`youden_cut` gives the
chosen score itself (the train stage's ``thresholds.json``). This module holds the one Youden
implementation (``radiopipe.modeling.validation.youden_threshold`` is :func:`youden_cut`).

Ties: the Youden index of every cut is compared exactly, as the integer
``cases_above * n_controls - controls_above * n_cases`` (no rounding can split a tie), and
among cuts with the same maximum index the highest (most specific) one is taken. Bootstrap
CIs hold the threshold fixed: they show the sampling variability of the set at that frozen
operating point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from radiopipe.stats.bootstrap import DEFAULT_RESAMPLES, StratifiedBootstrap, percentile_ci
from radiopipe.stats.checks import StatsInputError, labels_and_scores

METRICS = ("accuracy", "sensitivity", "specificity", "precision", "npv", "f1")


@dataclass(frozen=True)
class YoudenPoint:
    """The cut that maximises sensitivity + specificity - 1 on one set."""

    threshold: float  # midpoint between the chosen score and the next lower one
    youden: float
    sensitivity: float
    specificity: float
    cut: float = float("nan")  # the chosen score itself (``score >= cut`` is positive)


def youden_threshold(y: npt.ArrayLike, score: npt.ArrayLike, where: str = "") -> YoudenPoint:
    """The threshold with the maximum Youden index (higher score means label 1).

    Among cuts with the same (exactly compared) index the highest score is chosen.
    """
    labels, values = labels_and_scores(y, score, where)
    distinct = np.unique(values)[::-1]  # descending
    m, n = int(labels.sum()), int(labels.size - labels.sum())
    # cases / controls scoring >= each distinct value
    cases_above = np.searchsorted(np.sort(-values[labels == 1]), -distinct, side="right")
    controls_above = np.searchsorted(np.sort(-values[labels == 0]), -distinct, side="right")
    # Youden * m * n, in integers: equal indices compare equal (float sums may differ by an ulp)
    scaled = cases_above.astype(np.int64) * n - controls_above.astype(np.int64) * m
    best = int(np.argmax(scaled))  # first maximum: the highest cut
    below = distinct[best + 1] if best + 1 < distinct.size else distinct[best]
    sensitivity = cases_above[best] / m
    specificity = 1.0 - controls_above[best] / n
    return YoudenPoint(
        threshold=float((distinct[best] + below) / 2.0),
        youden=float(sensitivity + specificity - 1.0),
        sensitivity=float(sensitivity),
        specificity=float(specificity),
        cut=float(distinct[best]),
    )


def youden_cut(labels: npt.ArrayLike, probabilities: npt.ArrayLike, where: str = "") -> float:
    """The score with the maximum Youden index itself (``probability >= cut`` is positive).

    The same choice as :func:`youden_threshold` (ties to the highest cut); it returns the
    chosen score instead of the midpoint below it.
    """
    return youden_threshold(labels, probabilities, where).cut


def metrics_from_counts(
    tp: npt.ArrayLike, fp: npt.ArrayLike, tn: npt.ArrayLike, fn: npt.ArrayLike
) -> dict[str, np.ndarray]:
    """Accuracy, sensitivity, specificity, precision (PPV), NPV and F1; 0/0 gives NaN."""
    tp, fp, tn, fn = (np.asarray(v, dtype=float) for v in (tp, fp, tn, fn))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "accuracy": (tp + tn) / (tp + fp + tn + fn),
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "precision": tp / (tp + fp),
            "npv": tn / (tn + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
        }


def confusion_counts(
    y: npt.ArrayLike, score: npt.ArrayLike, threshold: float, where: str = ""
) -> dict[str, int]:
    """TP, FP, TN, FN when ``score >= threshold`` is called positive."""
    labels, values = labels_and_scores(y, score, where)
    called = values >= _check_threshold(threshold, where)
    return {
        "tp": int(np.sum(called & (labels == 1))),
        "fp": int(np.sum(called & (labels == 0))),
        "tn": int(np.sum(~called & (labels == 0))),
        "fn": int(np.sum(~called & (labels == 1))),
    }


def threshold_metrics(
    y: npt.ArrayLike, score: npt.ArrayLike, threshold: float, where: str = ""
) -> dict[str, float]:
    """Metrics and confusion counts at a threshold."""
    counts = confusion_counts(y, score, threshold, where)
    metrics = metrics_from_counts(counts["tp"], counts["fp"], counts["tn"], counts["fn"])
    return {**{k: float(v) for k, v in metrics.items()}, **counts, "threshold": threshold}


def threshold_metrics_ci(
    y: npt.ArrayLike,
    score: npt.ArrayLike,
    threshold: float,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | np.random.SeedSequence = 0,
    confidence: float = 0.95,
    where: str = "",
) -> pd.DataFrame:
    """Each metric at a fixed threshold with its stratified percentile bootstrap CI.

    Returns one row per metric: ``metric, estimate, ci_low, ci_high``.
    """
    labels, values = labels_and_scores(y, score, where)
    point = threshold_metrics(labels, values, threshold, where)
    called = (values >= threshold).astype(float)
    boot = StratifiedBootstrap(labels, n_resamples, seed)
    called_cases, called_controls = called[boot.case_rows], called[boot.control_rows]
    m, n = called_cases.size, called_controls.size
    tp_parts, fp_parts = [], []
    for case_draws, control_draws in boot.blocks():
        tp_parts.append(called_cases[case_draws].sum(axis=1))
        fp_parts.append(called_controls[control_draws].sum(axis=1))
    tp, fp = np.concatenate(tp_parts), np.concatenate(fp_parts)
    samples = metrics_from_counts(tp, fp, n - fp, m - tp)
    rows = []
    for metric in METRICS:
        low, high = percentile_ci(samples[metric], confidence)
        rows.append({"metric": metric, "estimate": point[metric], "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def _check_threshold(threshold: float, where: str) -> float:
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise StatsInputError(
            f"{where + ': ' if where else ''}threshold must be a number"
        ) from None
    if not np.isfinite(value):
        raise StatsInputError(f"{where + ': ' if where else ''}threshold must be finite")
    return value
