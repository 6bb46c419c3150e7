"""Fixtures for the statistics tests: realistic predictions tables in the stage contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

MODELS = {"svm": 0.7, "rf": 0.5, "lightgbm": 0.6, "mlp": 0.7, "stack": 0.9}


def make_fixed_split_predictions(
    seed: int = 0, sizes: dict[str, int] | None = None, n_folds: int = 5
) -> pd.DataFrame:
    """Predictions of the fixed-split design: train (fold -1), train_oof, two test sets."""
    rng = np.random.default_rng(seed)
    sizes = sizes or {"train": 120, "internal_test": 40, "external_test": 40}
    rows = []
    start = 0
    for split, n in sizes.items():
        ids = [f"P{start + i:04d}" for i in range(n)]
        start += n
        y = (rng.random(n) < 0.45).astype(int)
        y[:2] = [0, 1]  # both classes always present
        latent = rng.normal(size=n)
        folds = rng.permutation(np.arange(n) % n_folds)
        for model, strength in MODELS.items():
            noise = rng.normal(scale=1.0, size=n)
            score = strength * (y - 0.5) * 2 + 0.6 * latent + noise
            p = 1 / (1 + np.exp(-score))
            if split == "train":
                p_apparent = 1 / (1 + np.exp(-(score + 0.8 * (2 * y - 1))))
                rows += _rows(ids, "train", -1, model, p_apparent, y)
                rows += _rows(ids, "train_oof", folds, model, p, y)
            else:
                rows += _rows(ids, split, -1, model, p, y)
    return pd.DataFrame(rows)


def make_cv_predictions(
    seed: int = 1, n: int = 90, n_folds: int = 5, repeats: int = 2
) -> pd.DataFrame:
    """Predictions of the nested-CV design: split 'cv', fold = repeat * n_folds + k."""
    rng = np.random.default_rng(seed)
    ids = [f"C{i:03d}" for i in range(n)]
    y = (rng.random(n) < 0.5).astype(int)
    rows = []
    for repeat in range(repeats):
        order = rng.permutation(n)
        fold_of = np.empty(n, dtype=int)
        fold_of[order] = np.arange(n) % n_folds
        for model, strength in MODELS.items():
            score = strength * (2 * y - 1) + rng.normal(size=n)
            p = 1 / (1 + np.exp(-score))
            rows += _rows(ids, "cv", repeat * n_folds + fold_of, model, p, y)
    return pd.DataFrame(rows)


def _rows(ids, split, fold, model, p, y):
    folds = np.broadcast_to(np.asarray(fold), (len(ids),))
    return [
        {"patient_id": pid, "split": split, "fold": int(f), "model": model,
         "probability": float(pp), "label": int(yy)}
        for pid, f, pp, yy in zip(ids, folds, p, y, strict=True)
    ]  # fmt: skip


@pytest.fixture
def fixed_predictions() -> pd.DataFrame:
    """A fixed-split predictions table (train, train_oof, internal and external test)."""
    return make_fixed_split_predictions()


@pytest.fixture
def cv_predictions() -> pd.DataFrame:
    """A nested-CV predictions table with two repeats of five folds."""
    return make_cv_predictions()


@pytest.fixture(scope="session")
def predictions_factory():
    """The generator of fixed-split predictions tables, for tests that alter one."""
    return make_fixed_split_predictions
