"""The first steps: median imputation and removal of constant features (training data only)."""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from radiopipe.modeling.base import FeatureFilter, FeatureTransformer, wrap_like
from radiopipe.modeling.columns import join_meta, split_meta

log = logging.getLogger(__name__)


def _finite_array(estimator: MedianImputer, features: object, reset: bool) -> np.ndarray:
    """Validated float array in which infinite values (failed computations) are missing."""
    array = validate_data(
        estimator, features, reset=reset, dtype=np.float64, ensure_all_finite=False
    )
    return np.where(np.isfinite(array), array, np.nan)


class MedianImputer(FeatureTransformer):
    """Replace missing (or infinite) feature values by the training median of the feature.

    A feature that is missing for every training patient is filled with 0, so that the
    constant-feature filter removes it next.
    """

    def fit(self, X: object, y: object = None) -> MedianImputer:
        """Learn the per-feature medians."""
        features, _ = split_meta(X)
        array = _finite_array(self, features, reset=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            medians = np.nanmedian(array, axis=0)
        empty = np.isnan(medians)
        if empty.any():
            log.warning("%d feature(s) missing for every training patient; set to 0", empty.sum())
        self.statistics_ = np.where(empty, 0.0, medians)
        self.n_missing_ = int(np.isnan(array).sum())
        return self

    def transform(self, X: object) -> object:
        """Fill missing values with the training medians."""
        check_is_fitted(self, "statistics_")
        features, meta = split_meta(X)
        array = _finite_array(self, features, reset=False)
        filled = np.where(np.isnan(array), self.statistics_, array)
        return join_meta(wrap_like(filled, features), meta)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class ConstantFilter(FeatureFilter):
    """Drop features whose training variance is at most ``threshold`` (0: exactly constant)."""

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = threshold

    def _support(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        if self.threshold <= 0:
            return np.ptp(X, axis=0) > 0
        return np.var(X, axis=0) > self.threshold
