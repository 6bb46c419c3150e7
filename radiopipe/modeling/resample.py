"""SMOTE that marks the rows it invents, and inner cross-validation that never validates on them.

SMOTE runs inside the imblearn pipeline, so it only ever sees the training fold. The steps after
it that run their own inner cross-validation (LASSO, tuning, stacking) must not validate on
synthetic rows either: a synthetic patient interpolated from a validation patient would leak it.
:func:`inner_splits` therefore splits the real patients only, and :func:`resample` re-applies
the sampler inside each inner training fold.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold

from radiopipe.modeling.columns import SYNTHETIC_PREFIX, real_rows

log = logging.getLogger(__name__)


class MarkedSMOTE(BaseEstimator):
    """imblearn SMOTE on the feature matrix; synthetic rows get index labels ``synthetic::<i>``.

    Runs only during ``fit`` of an imblearn pipeline (samplers are skipped at predict time).
    ``k_neighbors`` is lowered (with a note) when the minority class is smaller than k + 1.
    """

    def __init__(
        self,
        k_neighbors: int = 5,
        sampling_strategy: str | float = "auto",
        random_state: int | None = None,
    ) -> None:
        self.k_neighbors = k_neighbors
        self.sampling_strategy = sampling_strategy
        self.random_state = random_state

    def fit_resample(self, X: object, y: object) -> tuple[object, np.ndarray]:
        """Return ``X`` and ``y`` with synthetic minority rows appended."""
        from imblearn.over_sampling import SMOTE

        y = np.asarray(y)
        array = np.asarray(X, dtype=np.float64)
        minority = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
        if minority < 2:
            raise ValueError(f"SMOTE needs at least 2 patients of each class, got {minority}")
        k = min(self.k_neighbors, minority - 1)
        if k < self.k_neighbors:
            log.info(
                "SMOTE: minority class has %d patients, k_neighbors lowered to %d", minority, k
            )
        smote = SMOTE(
            k_neighbors=k, sampling_strategy=self.sampling_strategy, random_state=self.random_state
        )
        resampled, y_resampled = smote.fit_resample(array, y)
        n_new = len(resampled) - len(array)
        self.n_synthetic_ = n_new
        if isinstance(X, pd.DataFrame):
            index = [*X.index, *(f"{SYNTHETIC_PREFIX}{i}" for i in range(n_new))]
            resampled = pd.DataFrame(
                resampled, index=pd.Index(index, name=X.index.name), columns=X.columns
            )
        return resampled, np.asarray(y_resampled)


def resample(sampler: object | None, X: object, y: np.ndarray) -> tuple[object, np.ndarray]:
    """``X, y`` oversampled by a fresh clone of ``sampler`` (unchanged when it is None)."""
    if sampler is None:
        return X, y
    return clone(sampler).fit_resample(X, y)


def inner_splits(
    X: object, y: np.ndarray, n_splits: int, random_state: int | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds over the real rows of ``X`` (row positions); synthetic rows in none.

    ``n_splits`` is lowered to the size of the smaller class when needed.
    """
    real = np.flatnonzero(real_rows(X))
    y_real = np.asarray(y)[real]
    smallest = int(np.bincount(np.unique(y_real, return_inverse=True)[1]).min())
    k = min(n_splits, smallest)
    if k < 2:
        raise ValueError(
            f"inner cross-validation needs at least 2 patients of each class, got {smallest}"
        )
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state)
    return [(real[tr], real[te]) for tr, te in splitter.split(np.zeros(len(real)), y_real)]


def take_rows(X: object, rows: np.ndarray) -> object:
    """Rows of an array or DataFrame by position."""
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[rows]
