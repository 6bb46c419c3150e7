"""The model-agnostic estimator: exact additivity, exactness on additive models, agreement with
shap's exact explainer, seeding, and independence from parallelism and batching."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from radiopipe.explain.permutation import PositiveProbability, on_scale, permutation_shap
from tests.explain.builders import exact_shapley


@pytest.fixture(scope="module")
def logistic():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 5))
    y = (X @ np.array([1.5, -1.0, 0.5, 0.0, 2.0]) + rng.normal(size=200) > 0).astype(int)
    return LogisticRegression().fit(X, y), X


def nonlinear(X: np.ndarray) -> np.ndarray:
    """A probability with interactions (so permutation order matters)."""
    z = 1.2 * X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) - 0.7 * X[:, 3] + 0.3 * X[:, 0] ** 2
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("scale", ["probability", "log_odds"])
def test_values_add_up_to_output_minus_expected_value(scale) -> None:
    rng = np.random.default_rng(0)
    X, background = rng.normal(size=(25, 4)), rng.normal(size=(12, 4))
    est = permutation_shap(nonlinear, X, background, permutations=2, scale=scale, seed=5)
    assert est.values.shape == (25, 4)
    np.testing.assert_allclose(est.output, on_scale(nonlinear(X), scale), rtol=0, atol=1e-15)
    assert est.base_value == pytest.approx(on_scale(nonlinear(background), scale).mean(), abs=1e-15)
    np.testing.assert_allclose(est.values.sum(axis=1) + est.base_value, est.output, atol=1e-12)


def test_exact_for_a_model_additive_on_the_explained_scale(logistic) -> None:
    """Log-odds of a logistic regression: phi_j = w_j (x_j - mean background x_j), any orders."""
    model, X = logistic
    background = X[:30]
    est = permutation_shap(PositiveProbability(model), X[30:40], background, scale="log_odds")
    expected = model.coef_[0] * (X[30:40] - background.mean(axis=0))
    np.testing.assert_allclose(est.values, expected, atol=1e-9)


def test_converges_to_exact_shapley_values() -> None:
    rng = np.random.default_rng(1)
    X, background = rng.normal(size=(6, 4)), rng.normal(size=(15, 4))
    exact = exact_shapley(nonlinear, X, background)
    est = permutation_shap(nonlinear, X, background, permutations=30, seed=0)
    error = np.sqrt(np.mean((est.values - exact) ** 2))
    assert error < 0.05 * np.abs(exact).mean(), error
    coarse = permutation_shap(nonlinear, X, background, permutations=1, seed=0)
    assert np.sqrt(np.mean((coarse.values - exact) ** 2)) > error  # more orderings: closer


def test_seeded_and_independent_of_jobs_and_batch_size() -> None:
    rng = np.random.default_rng(2)
    X, background = rng.normal(size=(20, 6)), rng.normal(size=(10, 6))
    first = permutation_shap(nonlinear, X, background, seed=11)
    again = permutation_shap(nonlinear, X, background, seed=11, n_jobs=2, batch_rows=1000)
    np.testing.assert_array_equal(first.values, again.values)
    other = permutation_shap(nonlinear, X, background, seed=12)
    assert not np.allclose(first.values, other.values)
    # a patient's values do not depend on the other patients explained with it
    alone = permutation_shap(nonlinear, X[:1], background, seed=11)
    np.testing.assert_array_equal(alone.values[0], first.values[0])


def test_single_feature_and_shape_errors() -> None:
    rng = np.random.default_rng(4)
    f = lambda A: 1 / (1 + np.exp(-A[:, 0]))  # noqa: E731
    X, background = rng.normal(size=(3, 1)), rng.normal(size=(5, 1))
    est = permutation_shap(f, X, background)
    np.testing.assert_allclose(est.values[:, 0], f(X) - f(background).mean(), atol=1e-15)
    with pytest.raises(ValueError, match="same columns"):
        permutation_shap(f, X, rng.normal(size=(5, 2)))
    with pytest.raises(ValueError, match="empty"):
        permutation_shap(f, X, np.zeros((0, 1)))
