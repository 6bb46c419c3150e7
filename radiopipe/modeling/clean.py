"""The first steps: median imputation and removal of constant features (training data only)."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted, validate_data

from radiopipe.modeling.base import FeatureFilter, FeatureTransformer, wrap_like
from radiopipe.modeling.columns import join_meta, split_meta

log = logging.getLogger(__name__)


def _finite_or_nan(features: object) -> object:
    """Infinite values (a failed feature computation) become missing values."""
    if isinstance(features, pd.DataFrame):
        numeric = features.apply(pd.to_numeric, errors="coerce")
        return numeric.replace([np.inf, -np.inf], np.nan)
    array = np.array(features, dtype=np.float64)
    array[~np.isfinite(array)] = np.nan
    return array


class MedianImputer(FeatureTransformer):
    """Replace missing (or infinite) feature values by the training median of the feature.

    A feature that is missing for every training patient is filled with 0, so that the
    constant-feature filter removes it next.
    """

    def fit(self, X: object, y: object = None) -> MedianImputer:
        """Learn the per-feature medians."""
        features, _ = split_meta(X)
        array = validate_data(
            self, _finite_or_nan(features), dtype=np.float64, ensure_all_finite="allow-nan"
        )
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
        cleaned = _finite_or_nan(features)
        array = validate_data(
            self, cleaned, reset=False, dtype=np.float64, ensure_all_finite="allow-nan"
        )
        filled = np.where(np.isnan(array), self.statistics_, array)
        return join_meta(wrap_like(filled, cleaned), meta)

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
