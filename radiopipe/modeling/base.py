"""Shared machinery of the feature steps: input checks, meta pass-through, selector base."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import ClassifierTags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from radiopipe.modeling.columns import join_meta, split_meta


def as_binary_target(y: object) -> np.ndarray:
    """``y`` as a 0/1 integer vector; anything but two classes is a ValueError."""
    values = np.asarray(y)
    check_classification_targets(values)
    classes = np.unique(values)
    if len(classes) != 2:
        found = f"{len(classes)} class" + ("" if len(classes) == 1 else "es")
        raise ValueError(
            "Only binary classification is supported: the outcome must have two classes, "
            f"got {found}: {classes[:5].tolist()}"
        )
    return (values == classes[1]).astype(int)


class FeatureFilter(SelectorMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Base of every feature filter: learns ``support_`` on fit, keeps those columns on transform.

    Meta columns (``meta__*``) are passed through untouched; DataFrames stay DataFrames with
    their index, so patient identity (and the synthetic-row marker) survives each step.
    """

    requires_y = False

    def fit(self, X: object, y: object = None) -> FeatureFilter:
        """Learn which feature columns to keep."""
        features, _ = split_meta(X)
        if self.requires_y:
            array, y = validate_data(self, features, y, dtype=np.float64)
            y = as_binary_target(y)
        else:
            array = validate_data(self, features, dtype=np.float64)
        self.support_ = np.asarray(self._support(array, y), dtype=bool)
        self.n_features_out_ = int(self.support_.sum())
        return self

    def _support(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def transform(self, X: object) -> object:
        """Keep the selected feature columns (and any meta columns)."""
        check_is_fitted(self, "support_")
        features, meta = split_meta(X)
        validate_data(self, features, reset=False, dtype=np.float64, skip_check_array=False)
        if isinstance(features, pd.DataFrame):
            kept = features.loc[:, self.support_]
        else:
            kept = np.asarray(features, dtype=np.float64)[:, self.support_]
        return join_meta(kept, meta)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.requires_y
        if self.requires_y:  # a binary outcome: sklearn's checks then pass two classes
            tags.classifier_tags = ClassifierTags(multi_class=False)
        return tags


class FeatureTransformer(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Base of value-changing steps that keep every feature column and pass meta through."""

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Output feature names: the input feature names."""
        check_is_fitted(self, "n_features_in_")
        if hasattr(self, "feature_names_in_"):
            return np.asarray(self.feature_names_in_, dtype=object)
        return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)


def wrap_like(values: np.ndarray, template: object) -> object:
    """``values`` as a DataFrame shaped like ``template`` when that is one, else the array."""
    if isinstance(template, pd.DataFrame):
        return pd.DataFrame(values, index=template.index, columns=template.columns)
    return values


class BinaryClassifierMixin:
    """Tags a classifier as binary-only (the outcome of a radiomics study is 0/1)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
