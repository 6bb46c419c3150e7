"""Base learners on the small training folds that radiomics cohorts give."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from radiopipe.modeling.learners import default_params
from radiopipe.modeling.tuning import TunedClassifier


def test_lightgbm_defaults_can_split_a_small_fold(rng) -> None:
    """With LightGBM's own min_child_samples (20) a 24-patient fold predicts a constant."""
    assert default_params("lightgbm", 10, 24)["min_child_samples"] == 2
    assert default_params("lightgbm", 10, 400)["min_child_samples"] == 20
    y = np.r_[np.zeros(12, int), np.ones(12, int)]
    X = rng.normal(size=(24, 5)) + 1.5 * y[:, None] * np.r_[1.0, 1.0, 0, 0, 0]
    model = TunedClassifier("lightgbm", n_trials=0, inner_folds=3, random_state=0).fit(X, y)
    proba = model.predict_proba(X)[:, 1]
    assert np.ptp(proba) > 0.1
    assert roc_auc_score(y, proba) > 0.9
    assert roc_auc_score(y[np.isfinite(model.oof_proba_)], model.oof_proba_) > 0.7


def test_defaults_are_moved_into_the_search_space() -> None:
    from radiopipe.modeling.learners import in_space

    space = {
        "n_estimators": {"type": "int", "low": 20, "high": 60, "step": 20},
        "learning_rate": {"type": "float", "low": 0.05, "high": 0.3},
        "max_features": {"type": "categorical", "choices": ["sqrt"]},
    }
    params = {"n_estimators": 100, "learning_rate": 0.01, "max_features": 0.5, "other": 1}
    assert in_space(params, space) == {"n_estimators": 60, "learning_rate": 0.05}
    assert in_space({"n_estimators": 35}, space) == {"n_estimators": 40}
