"""Model-agnostic SHAP values by antithetic permutation sampling, vectorised and seeded.

Interventional Shapley values of ``g(f(x))`` against a background sample ``R`` are the average,
over background rows ``r`` and feature orderings ``pi``, of the change in ``g(f)`` when the
features are switched from ``r`` to ``x`` one at a time in the order ``pi`` (Strumbelj and
Kononenko 2014). Here every background row gets its own ``permutations`` random orderings, each
walked forwards and backwards (antithetic pairs, Mitchell et al. 2022). A walk costs ``M - 1``
model evaluations (its end points, ``f(r)`` and ``f(x)``, are shared), so one patient costs
``2 * permutations * |R| * (M - 1)`` rows, evaluated in large batches.

Every walk telescopes to ``g(f(x)) - g(f(r))`` and every background row is walked equally
often, so the values add up exactly: ``sum_j phi_j(x) = g(f(x)) - mean_r g(f(r))``.

Compared with shap's ``PermutationExplainer`` (one ordering shared by all background rows) the
same number of evaluations averages over ``|R|`` times more orderings, which lowers the error
per evaluation (``benchmarks/explain_shap.py`` measures both against exact values).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

SCALES = ("probability", "log_odds")
CLIP = 1e-12


@dataclass(frozen=True)
class ShapEstimate:
    """SHAP values of one model for some patients, on one output scale."""

    values: np.ndarray  # (n patients, M features)
    base_value: float  # E over the background of the explained output
    output: np.ndarray  # (n,) the explained output of each patient
    scale: str = "probability"  # what the output is: a probability or log-odds


class PositiveProbability:
    """``predict_proba(X)[:, 1]`` of a fitted classifier, fed a frame when it knows names."""

    def __init__(self, estimator: object, feature_names: list[str] | None = None) -> None:
        self.estimator = estimator
        known = getattr(estimator, "feature_names_in_", None)
        self.columns = list(feature_names) if known is not None and feature_names else None

    def __call__(self, X: np.ndarray) -> np.ndarray:
        data = pd.DataFrame(X, columns=self.columns) if self.columns else X
        return np.asarray(self.estimator.predict_proba(data))[:, 1].astype(np.float64)


def on_scale(p: np.ndarray, scale: str) -> np.ndarray:
    """Probabilities on the explained scale: unchanged, or log-odds (clipped away from 0, 1)."""
    if scale == "probability":
        return np.asarray(p, dtype=np.float64)
    if scale == "log_odds":
        q = np.clip(np.asarray(p, dtype=np.float64), CLIP, 1 - CLIP)
        return np.log(q / (1 - q))
    raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")


def permutation_shap(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    background: np.ndarray,
    permutations: int = 1,
    scale: str = "probability",
    seed: int = 0,
    n_jobs: int = 1,
    batch_rows: int = 50_000,
) -> ShapEstimate:
    """SHAP values of ``predict`` (positive-class probability) for each row of ``X``.

    Patient ``i`` draws its orderings from ``SeedSequence([seed, i])``, so the result does not
    depend on ``n_jobs`` or ``batch_rows``.
    """
    X = np.asarray(X, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    if X.ndim != 2 or background.ndim != 2 or X.shape[1] != background.shape[1]:
        raise ValueError(
            f"X {X.shape} and background {background.shape} must be 2-D with the same columns"
        )
    if len(background) == 0:
        raise ValueError("the background sample is empty")
    if permutations < 1:
        raise ValueError(f"permutations must be >= 1, got {permutations}")
    base_out = on_scale(predict(background), scale)
    patient_out = on_scale(predict(X), scale)
    n, m = X.shape
    chains = 2 * permutations * len(background)
    per_patient = max(chains * (m - 1), 1)
    size = max(1, batch_rows // per_patient)
    blocks = [np.arange(s, min(s + size, n)) for s in range(0, n, size)]
    job = _BlockJob(predict, X, background, base_out, patient_out, permutations, scale, seed)
    if n_jobs > 1 and len(blocks) > 1:
        from joblib import Parallel, delayed, parallel_config

        # one thread per worker: the learners' own thread pools (LightGBM's OpenMP, BLAS)
        # would otherwise oversubscribe the cores the workers already use
        with parallel_config(backend="loky", inner_max_num_threads=1):
            parts = Parallel(n_jobs=n_jobs)(delayed(job)(b) for b in blocks)
    else:
        parts = [job(b) for b in blocks]
    values = np.vstack(parts) if parts else np.zeros((0, m))
    return ShapEstimate(values, float(base_out.mean()), patient_out, scale)


@dataclass
class _BlockJob:
    """The SHAP values of one block of patients (a picklable unit of parallel work)."""

    predict: Callable[[np.ndarray], np.ndarray]
    X: np.ndarray
    background: np.ndarray
    base_out: np.ndarray
    patient_out: np.ndarray
    permutations: int
    scale: str
    seed: int

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        n_bg, m = self.background.shape
        reps = 2 * self.permutations
        bg_of_chain = np.tile(np.arange(n_bg), reps)  # chain c starts from background row
        orders, masks = [], []
        for i in rows:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, int(i)]))
            forward = rng.permuted(np.tile(np.arange(m), (n_bg * self.permutations, 1)), axis=1)
            order = np.concatenate([forward, forward[:, ::-1]])  # antithetic walks
            orders.append(order)
            position = np.argsort(order, axis=1)  # step at which each feature switches to x
            masks.append(position[:, None, :] < np.arange(1, m)[None, :, None])
        if m > 1:
            start = self.background[bg_of_chain][None, :, None, :]  # (1, C, 1, M)
            target = self.X[rows][:, None, None, :]  # (b, 1, 1, M)
            hybrids = np.where(np.stack(masks), target, start).reshape(-1, m)
            inner = on_scale(self.predict(hybrids), self.scale).reshape(len(rows), -1, m - 1)
        else:
            inner = np.zeros((len(rows), len(bg_of_chain), 0))
        out = np.empty((len(rows), m))
        for k, i in enumerate(rows):
            walk = np.concatenate(
                [
                    self.base_out[bg_of_chain][:, None],
                    inner[k],
                    np.full((len(bg_of_chain), 1), self.patient_out[i]),
                ],
                axis=1,
            )
            steps = np.diff(walk, axis=1)  # steps[c, s]: change when orders[k][c, s] switches
            contribution = np.empty_like(steps)
            np.put_along_axis(contribution, orders[k], steps, axis=1)
            out[k] = contribution.mean(axis=0)
        return out
