"""Column and row conventions of the modelling frame: meta columns and synthetic rows.

The pipeline's input ``X`` is a DataFrame indexed by ``patient_id``. Feature columns carry
their contract names (``t2w__original_firstorder_Mean``). Per-patient information that a step
needs but that is not a feature (the site, ComBat covariates) travels in the same frame in
columns prefixed ``meta__``: cross-validation splits rows, so this information is split with
them and no step can see another fold's sites. The steps before harmonisation pass meta
columns through untouched; the harmonisation step (or :class:`DropMeta` when it is off) consumes
them, so nothing after it (scaler, SMOTE, filters, learners) ever sees a site or covariate.

Rows added by SMOTE get index labels starting with :data:`SYNTHETIC_PREFIX`, so the estimators
that run their own inner cross-validation (LASSO, tuning, stacking) validate on real patients
only and oversample inside each inner training fold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

META_PREFIX = "meta__"
SITE_COLUMN = "meta__site"
SYNTHETIC_PREFIX = "synthetic::"


def covariate_column(name: str) -> str:
    """The meta column that carries covariate ``name``."""
    return f"{META_PREFIX}{name}"


def meta_columns(X: object) -> list[str]:
    """Names of the meta columns of ``X`` (none for arrays)."""
    if not isinstance(X, pd.DataFrame):
        return []
    return [c for c in X.columns if str(c).startswith(META_PREFIX)]


def split_meta(X: object) -> tuple[object, pd.DataFrame | None]:
    """``X`` split into its feature part and its meta part (None when there is none)."""
    meta = meta_columns(X)
    if not meta:
        return X, None
    assert isinstance(X, pd.DataFrame)
    return X.drop(columns=meta), X[meta]


def join_meta(features: object, meta: pd.DataFrame | None) -> object:
    """Features with the meta columns appended again (features unchanged when meta is None)."""
    if meta is None:
        return features
    if not isinstance(features, pd.DataFrame):
        features = pd.DataFrame(np.asarray(features), index=meta.index)
    return pd.concat([features, meta], axis=1)


def real_rows(X: object) -> np.ndarray:
    """Boolean mask of the rows that are real patients (not SMOTE-synthetic)."""
    if isinstance(X, pd.DataFrame):
        labels = X.index.astype(str)
        return ~np.asarray(labels.str.startswith(SYNTHETIC_PREFIX), dtype=bool)
    return np.ones(n_rows(X), dtype=bool)


def n_rows(X: object) -> int:
    """Number of rows of an array-like (sparse matrices included)."""
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None else len(np.asarray(X))


def feature_names(X: object, n: int) -> np.ndarray:
    """Column names of a DataFrame, or ``x0..x{n-1}`` for arrays."""
    if isinstance(X, pd.DataFrame):
        return np.asarray([str(c) for c in X.columns], dtype=object)
    return np.asarray([f"x{i}" for i in range(n)], dtype=object)
