"""TreeSHAP of tree base learners: additivity and agreement with exact interventional values."""

from __future__ import annotations

import numpy as np
import pytest

from radiopipe.explain.permutation import on_scale
from radiopipe.explain.targets import base_learners
from radiopipe.explain.trees import is_tree_model, tree_shap
from tests.explain.builders import exact_shapley

# the tests of this module share a session fixture: keep them on one xdist worker
pytestmark = pytest.mark.xdist_group("explain_fit")


@pytest.mark.parametrize("name", ["rf", "lightgbm"])
def test_tree_values_are_exact_interventional_shapley_values(fitted, name) -> None:
    pipeline, X, _, _ = fitted
    learner = base_learners(pipeline[-1])[name]
    assert is_tree_model(learner)
    Z = pipeline[:-1].transform(X).to_numpy()
    background, patients = Z[:20], Z[-8:]
    est = tree_shap(learner, patients, background)
    assert est.scale == {"rf": "probability", "lightgbm": "log_odds"}[name]
    np.testing.assert_allclose(est.values.sum(1) + est.base_value, est.output, atol=1e-6)
    probability = learner.predict_proba(patients)[:, 1]
    np.testing.assert_allclose(est.output, on_scale(probability, est.scale), atol=1e-12)

    def f(A):
        return on_scale(learner.predict_proba(A)[:, 1], est.scale)

    exact = exact_shapley(f, patients[:4], background)
    np.testing.assert_allclose(est.values[:4], exact, atol=1e-6)


def test_non_tree_models_are_not_taken_for_trees(fitted) -> None:
    learners = base_learners(fitted[0][-1])
    assert not is_tree_model(learners["svm"]) and not is_tree_model(learners["mlp"])
