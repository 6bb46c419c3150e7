"""Exact SHAP values of tree ensembles (random forest, LightGBM, ...) with shap's TreeExplainer.

Interventional TreeSHAP against the same background sample as the model-agnostic estimate,
on each model's own additive output, where TreeSHAP is exact: the probability for forests
(which average leaf probabilities) and the log-odds for boosted trees (which add leaf
scores). shap's ``model_output="probability"`` for boosted trees rescales the log-odds values
per background row (DeepSHAP-style, shap/shap#963), an approximation, so it is not used.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from radiopipe.explain.permutation import PositiveProbability, ShapEstimate

log = logging.getLogger(__name__)

# (module prefix, class name) of the tree models TreeExplainer handles exactly.
# and the scale their trees add up on.
TREE_MODELS = {
    ("sklearn.ensemble", "RandomForestClassifier"): "probability",
    ("sklearn.ensemble", "ExtraTreesClassifier"): "probability",
    ("sklearn.tree", "DecisionTreeClassifier"): "probability",
    ("sklearn.ensemble", "GradientBoostingClassifier"): "log_odds",
    ("lightgbm", "LGBMClassifier"): "log_odds",
    ("xgboost", "XGBClassifier"): "log_odds",
}


def tree_scale(estimator: object) -> str | None:
    """The scale a tree model's trees add up on; None if it is not a known tree model."""
    cls = type(estimator)
    for (module, name), scale in TREE_MODELS.items():
        if cls.__module__.startswith(module) and cls.__name__ == name:
            return scale
    return None


def is_tree_model(estimator: object) -> bool:
    """True for the fitted tree ensembles that TreeExplainer explains exactly."""
    return tree_scale(estimator) is not None


def tree_shap(
    estimator: object,
    X: np.ndarray,
    background: np.ndarray,
    feature_names: list[str] | None = None,
) -> ShapEstimate:
    """Interventional TreeSHAP of a fitted tree model's positive class, on its native scale."""
    import shap

    from radiopipe.explain.permutation import on_scale

    X = np.asarray(X, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    frame = _frame_maker(estimator, feature_names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feature-name and LightGBM chatter
        explainer = shap.TreeExplainer(
            estimator,
            data=frame(background),
            model_output="raw",
            feature_perturbation="interventional",
        )
        raw = explainer.shap_values(frame(X), check_additivity=False)
        probability = PositiveProbability(estimator, feature_names)(X)
    scale = tree_scale(estimator) or "probability"
    values = _positive_class(raw, X.shape)
    base = np.ravel(np.asarray(explainer.expected_value, dtype=np.float64))
    base_value = float(base[-1])
    return ShapEstimate(values, base_value, on_scale(probability, scale), scale)


def _frame_maker(estimator: object, names: list[str] | None):
    """Rows as a DataFrame when the model was fitted with feature names, else as they are."""
    if getattr(estimator, "feature_names_in_", None) is not None and names:
        return lambda rows: pd.DataFrame(rows, columns=names)
    return lambda rows: rows


def _positive_class(raw: object, shape: tuple[int, int]) -> np.ndarray:
    """The positive class's values from shap's per-class list or (n, M, classes) array."""
    if isinstance(raw, list):
        raw = raw[-1]
    values = np.asarray(raw, dtype=np.float64)
    if values.ndim == 3:
        values = values[:, :, -1]
    if values.shape != shape:
        raise ValueError(f"TreeExplainer returned values of shape {values.shape}, expected {shape}")
    return values
