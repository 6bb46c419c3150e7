"""AUC with DeLong variance, paired and unpaired DeLong tests (fast midrank algorithm).

The structural components of DeLong et al. (1988) are computed with the midrank algorithm of
Sun & Xu (2014): for ``m`` cases and ``n`` controls, with ``Tz`` the midranks of all scores,
``Tx`` those within the cases and ``Ty`` those within the controls,

* case placements    ``V10_i = (Tz_i - Tx_i) / n``   (share of controls below case ``i``),
* control placements ``V01_j = 1 - (Tz_j - Ty_j) / m`` (share of cases above control ``j``),
* ``AUC = mean(V10) = mean(V01)``, ties counting one half,
* ``S = cov(V10) / m + cov(V01) / n`` (covariance matrix of the AUCs of several scores).

This is O(N log N) per score instead of the O(m n) pairwise kernel, and gives the same
numbers as pROC's ``var(method="delong")``, ``cov``, ``ci.auc`` and ``roc.test``.

Direction follows pROC. ``direction="<"`` (our default): controls (label 0) are expected to
score lower than cases (label 1), so a higher score means "more likely label 1"; ``">"`` is the
reverse. ``"auto"`` picks ``"<"`` when the median score of the controls is at most that of the
cases (pROC's rule); it looks at the outcome, so it is only for reproducing pROC and must not
be used to evaluate a model on a test set (it turns an AUC below 0.5 into one above 0.5).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from radiopipe.stats.checks import (
    StatsInputError,
    binary_labels,
    check_confidence,
    check_direction,
    labels_and_scores,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AUCResult:
    """An AUC with its DeLong variance and confidence interval."""

    auc: float
    variance: float
    ci_low: float
    ci_high: float
    confidence: float
    n_cases: int
    n_controls: int
    direction: str

    def as_dict(self) -> dict[str, Any]:
        """Fields as a plain dict (for tables)."""
        return asdict(self)


@dataclass(frozen=True)
class PairedDelongResult:
    """Paired DeLong test of two scores on the same patients (``difference = auc_a - auc_b``)."""

    auc_a: float
    auc_b: float
    difference: float
    variance_a: float
    variance_b: float
    covariance: float
    se: float
    z: float
    p_value: float
    p_greater: float
    p_less: float
    ci_low: float
    ci_high: float
    confidence: float
    n_cases: int
    n_controls: int
    direction: str

    def as_dict(self) -> dict[str, Any]:
        """Fields as a plain dict (for tables)."""
        return asdict(self)


@dataclass(frozen=True)
class UnpairedDelongResult:
    """Unpaired DeLong test of two ROC curves from different patients (pROC's Welch-type t)."""

    auc_a: float
    auc_b: float
    difference: float
    variance_a: float
    variance_b: float
    se: float
    d: float
    df: float
    p_value: float
    p_greater: float
    p_less: float
    ci_low: float
    ci_high: float
    confidence: float
    n_a: int
    n_b: int
    direction: str

    def as_dict(self) -> dict[str, Any]:
        """Fields as a plain dict (for tables)."""
        return asdict(self)


def resolve_direction(y: np.ndarray, score: np.ndarray, direction: str) -> str:
    """The direction actually used: as given, or pROC's median rule for ``"auto"``."""
    check_direction(direction)
    if direction != "auto":
        return direction
    return "<" if np.median(score[y == 0]) <= np.median(score[y == 1]) else ">"


def midrank_placements(
    cases: np.ndarray, controls: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs (k,), case placements V10 (k, m) and control placements V01 (k, n).

    ``cases`` is (k, m) and ``controls`` (k, n): row ``r`` holds score ``r`` of every case and
    control, already oriented so that cases are expected to score higher.
    """
    m, n = cases.shape[1], controls.shape[1]
    tx = stats.rankdata(cases, axis=1)
    ty = stats.rankdata(controls, axis=1)
    tz = stats.rankdata(np.concatenate([cases, controls], axis=1), axis=1)
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return aucs, v10, v01


def delong_covariance(
    y: npt.ArrayLike,
    scores: npt.ArrayLike,
    direction: str = "<",
    where: str = "",
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """AUCs (k,), their DeLong covariance matrix (k, k) and the direction used per score.

    ``scores`` is (k, N) (or a single score of length N): k scores of the same N patients.
    """
    matrix = np.atleast_2d(np.asarray(scores, dtype=float))
    labels = None
    for row in matrix:
        labels, _ = labels_and_scores(y, row, where)
    assert labels is not None
    directions = [resolve_direction(labels, row, direction) for row in matrix]
    signs = np.array([1.0 if d == "<" else -1.0 for d in directions])[:, None]
    oriented = matrix * signs
    cases, controls = oriented[:, labels == 1], oriented[:, labels == 0]
    aucs, v10, v01 = midrank_placements(cases, controls)
    m, n = cases.shape[1], controls.shape[1]
    if m < 2 or n < 2:
        log.warning("%s: DeLong variance needs >= 2 cases and >= 2 controls", where or "AUC")
        cov = np.full((len(aucs), len(aucs)), np.nan)
    else:
        cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov, directions


def auc_delong(
    y: npt.ArrayLike,
    score: npt.ArrayLike,
    confidence: float = 0.95,
    direction: str = "<",
    where: str = "",
) -> AUCResult:
    """AUC with DeLong variance and normal CI (clipped to [0, 1]), as pROC's ``ci.auc``."""
    check_confidence(confidence)
    labels, _ = labels_and_scores(y, score, where)
    aucs, cov, directions = delong_covariance(labels, score, direction, where)
    auc, var = float(aucs[0]), float(cov[0, 0])
    half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(var)
    return AUCResult(
        auc=auc,
        variance=var,
        ci_low=float(np.clip(auc - half, 0.0, 1.0)),
        ci_high=float(np.clip(auc + half, 0.0, 1.0)),
        confidence=confidence,
        n_cases=int(labels.sum()),
        n_controls=int(labels.size - labels.sum()),
        direction=directions[0],
    )


def delong_test(
    y: npt.ArrayLike,
    score_a: npt.ArrayLike,
    score_b: npt.ArrayLike,
    confidence: float = 0.95,
    direction: str = "<",
    where: str = "",
) -> PairedDelongResult:
    """Paired DeLong test of ``AUC(score_a) - AUC(score_b)`` on the same patients.

    ``p_value`` is two-sided; ``p_greater`` tests AUC_a > AUC_b and ``p_less`` AUC_a < AUC_b.
    Two identical curves give z = 0 and p = 1 (as pROC).
    """
    check_confidence(confidence)
    a = np.asarray(score_a, dtype=float)
    b = np.asarray(score_b, dtype=float)
    if a.shape != b.shape:
        raise StatsInputError(
            f"{where + ': ' if where else ''}paired test needs both scores for the same "
            f"patients; got {a.size} and {b.size} scores"
        )
    aucs, cov, directions = delong_covariance(y, np.vstack([a, b]), direction, where)
    if directions[0] != directions[1]:
        log.warning("%s: the two ROC curves have opposite directions", where or "DeLong test")
    labels = binary_labels(y, where)
    diff = float(aucs[0] - aucs[1])
    var_diff = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(var_diff, 0.0)))
    z = _z_score(diff, se)
    half = stats.norm.ppf(0.5 + confidence / 2) * se
    return PairedDelongResult(
        auc_a=float(aucs[0]),
        auc_b=float(aucs[1]),
        difference=diff,
        variance_a=float(cov[0, 0]),
        variance_b=float(cov[1, 1]),
        covariance=float(cov[0, 1]),
        se=se,
        z=z,
        p_value=float(2 * stats.norm.sf(abs(z))),
        p_greater=float(stats.norm.sf(z)),
        p_less=float(stats.norm.cdf(z)),
        ci_low=diff - half,
        ci_high=diff + half,
        confidence=confidence,
        n_cases=int(labels.sum()),
        n_controls=int(labels.size - labels.sum()),
        direction=directions[0],
    )


def delong_test_unpaired(
    y_a: npt.ArrayLike,
    score_a: npt.ArrayLike,
    y_b: npt.ArrayLike,
    score_b: npt.ArrayLike,
    confidence: float = 0.95,
    direction: str = "<",
    where: str = "",
) -> UnpairedDelongResult:
    """Unpaired DeLong test for two ROC curves of different patients (e.g. two cohorts).

    As pROC's ``roc.test(paired=FALSE, method="delong")``: ``D = dAUC / sqrt(v_a + v_b)``
    referred to Student's t with Welch-type ``df = (v_a + v_b)^2 / (v_a^2/(N_a - 1) +
    v_b^2/(N_b - 1))``, where N is the number of patients of each curve. The CI of the
    difference uses the same t quantile.
    """
    check_confidence(confidence)
    first = auc_delong(y_a, score_a, confidence, direction, where)
    second = auc_delong(y_b, score_b, confidence, direction, where)
    var_a, var_b = first.variance, second.variance
    n_a = first.n_cases + first.n_controls
    n_b = second.n_cases + second.n_controls
    diff = first.auc - second.auc
    total = var_a + var_b
    se = float(np.sqrt(total))
    d = _z_score(diff, se)
    denom = var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1)
    df = float(total**2 / denom) if denom > 0 else float("inf")
    half = stats.t.ppf(0.5 + confidence / 2, df) * se if np.isfinite(df) else 0.0
    return UnpairedDelongResult(
        auc_a=first.auc,
        auc_b=second.auc,
        difference=diff,
        variance_a=var_a,
        variance_b=var_b,
        se=se,
        d=d,
        df=df,
        p_value=float(2 * stats.t.sf(abs(d), df)),
        p_greater=float(stats.t.sf(d, df)),
        p_less=float(stats.t.cdf(d, df)),
        ci_low=float(diff - half),
        ci_high=float(diff + half),
        confidence=confidence,
        n_a=n_a,
        n_b=n_b,
        direction=first.direction,
    )


def _z_score(diff: float, se: float) -> float:
    """diff / se; 0 for identical curves (0 / 0), +-inf for a difference with no variance."""
    if se > 0:
        return diff / se
    if diff == 0:
        return 0.0
    return float(np.copysign(np.inf, diff))
