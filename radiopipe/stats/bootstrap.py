"""Stratified bootstrap, vectorised: resample cases and controls separately, in blocks.

Every statistic of one set of patients draws from the same :class:`StratifiedBootstrap`
(same labels, same seed), so the resamples are shared across models: bootstrap CIs of
differences are paired and ROC bands of different models are comparable. Resample ``b``
holds ``m`` cases drawn with replacement from the ``m`` cases and ``n`` controls from the
``n`` controls (pROC's ``stratified=TRUE``). CIs are percentile intervals (R's quantile
type 7, numpy's default "linear"), as pROC's ``ci(method="bootstrap")``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from radiopipe.stats.checks import (
    StatsInputError,
    check_confidence,
    check_direction,
    labels_and_scores,
)
from radiopipe.stats.delong import resolve_direction

DEFAULT_RESAMPLES = 2000
BLOCK = 256  # resamples drawn per block: bounds memory, part of the seeded stream


@dataclass
class StratifiedBootstrap:
    """Seeded stratified resamples of one labelled set of patients, drawn in fixed blocks."""

    y: np.ndarray
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int | np.random.SeedSequence = 0
    case_rows: np.ndarray = field(init=False)
    control_rows: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y).astype(int)
        if self.n_resamples < 1:
            raise StatsInputError(f"bootstrap needs >= 1 resample, got {self.n_resamples}")
        self.case_rows = np.flatnonzero(self.y == 1)
        self.control_rows = np.flatnonzero(self.y == 0)

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (case draws (b, m), control draws (b, n)): positions within cases/controls."""
        rng = np.random.default_rng(self.seed)
        m, n = self.case_rows.size, self.control_rows.size
        for start in range(0, self.n_resamples, BLOCK):
            b = min(BLOCK, self.n_resamples - start)
            yield rng.integers(0, m, size=(b, m)), rng.integers(0, n, size=(b, n))

    def indices(self) -> np.ndarray:
        """All resamples as row indices into ``y`` (n_resamples, N): cases first, then controls."""
        parts = [np.hstack([self.case_rows[c], self.control_rows[d]]) for c, d in self.blocks()]
        return np.vstack(parts)


def percentile_ci(
    samples: np.ndarray, confidence: float = 0.95, axis: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along ``axis``; resamples where the statistic is NaN are skipped."""
    check_confidence(confidence)
    alpha = (1 - confidence) / 2
    quantile = np.nanquantile if np.isnan(samples).any() else np.quantile
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        low, high = quantile(samples, [alpha, 1 - alpha], axis=axis)
    return low, high


def _row_counts(draws: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Counts (b, n_groups) of drawn items per group; ``groups[item]`` is the item's group."""
    b = draws.shape[0]
    flat = (np.arange(b)[:, None] * n_groups + groups[draws]).ravel()
    return np.bincount(flat, minlength=b * n_groups).reshape(b, n_groups).astype(float)


@dataclass(frozen=True)
class RankedScore:
    """One score split into cases and controls, coded by rank among its distinct values."""

    case_codes: np.ndarray
    control_codes: np.ndarray
    values: np.ndarray  # distinct oriented scores, ascending

    @classmethod
    def build(cls, y: np.ndarray, score: np.ndarray, direction: str) -> RankedScore:
        """Orient the score (cases higher for '<') and code each value by its rank."""
        sign = 1.0 if resolve_direction(y, score, direction) == "<" else -1.0
        values, codes = np.unique(score * sign, return_inverse=True)
        return cls(codes[y == 1], codes[y == 0], values)

    def counts(self, case_draws: np.ndarray, control_draws: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per-resample counts of cases and controls at each distinct value (b, K) each."""
        k = self.values.size
        return (
            _row_counts(case_draws, self.case_codes, k),
            _row_counts(control_draws, self.control_codes, k),
        )


def auc_from_counts(cases: np.ndarray, controls: np.ndarray) -> np.ndarray:
    """AUC per row from case and control counts per ascending distinct value (ties = 1/2)."""
    below = np.cumsum(controls, axis=1) - controls
    m = cases.sum(axis=1)
    n = controls.sum(axis=1)
    return (cases * (below + 0.5 * controls)).sum(axis=1) / (m * n)


def bootstrap_auc(
    y: npt.ArrayLike,
    scores: npt.ArrayLike,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | np.random.SeedSequence = 0,
    direction: str = "<",
    where: str = "",
) -> np.ndarray:
    """Bootstrap AUCs (k, n_resamples) of k scores (k, N) of the same patients, paired."""
    check_direction(direction)
    matrix = np.atleast_2d(np.asarray(scores, dtype=float))
    labels = None
    for row in matrix:
        labels, _ = labels_and_scores(y, row, where)
    assert labels is not None
    ranked = [RankedScore.build(labels, row, direction) for row in matrix]
    boot = StratifiedBootstrap(labels, n_resamples, seed)
    out = np.empty((len(ranked), n_resamples))
    start = 0
    for case_draws, control_draws in boot.blocks():
        stop = start + case_draws.shape[0]
        for r, score in enumerate(ranked):
            out[r, start:stop] = auc_from_counts(*score.counts(case_draws, control_draws))
        start = stop
    return out


@dataclass(frozen=True)
class BootstrapCI:
    """A point estimate with its percentile bootstrap interval."""

    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    n_resamples: int


def auc_bootstrap_ci(
    y: npt.ArrayLike,
    score: npt.ArrayLike,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | np.random.SeedSequence = 0,
    confidence: float = 0.95,
    direction: str = "<",
    where: str = "",
) -> BootstrapCI:
    """AUC with a stratified percentile bootstrap CI (pROC ``ci.auc(method="bootstrap")``)."""
    labels, values = labels_and_scores(y, score, where)
    ranked = RankedScore.build(labels, values, direction)
    everyone = (
        np.arange(ranked.case_codes.size)[None, :],
        np.arange(ranked.control_codes.size)[None, :],
    )
    estimate = auc_from_counts(*ranked.counts(*everyone))[0]
    samples = bootstrap_auc(labels, values, n_resamples, seed, direction, where)[0]
    low, high = percentile_ci(samples, confidence)
    return BootstrapCI(float(estimate), float(low), float(high), confidence, n_resamples)
