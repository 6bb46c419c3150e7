"""The stack's meta-learner inputs and combiners (issue 17): out-of-fold probabilities from a
second inner split (``stack.oof_split: fresh``) and the discrete Super Learner."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from radiopipe.config.model import ModelConfig
from radiopipe.modeling.combiners import ConvexCombiner, meta_learner
from radiopipe.modeling.pipeline_factory import build_pipeline
from radiopipe.modeling.resample import inner_splits
from radiopipe.modeling.tuning import FRESH_SEED_OFFSET, TunedClassifier

from .conftest import model_frame, tuned_learners_config


def _data(rng, n=60, p=30, informative=3, effect=1.0):
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    X = rng.normal(size=(n, p))
    X[:, :informative] += effect * y[:, None]
    return X, y


def _tuned(oof_split: str, **kwargs) -> TunedClassifier:
    settings = dict(n_trials=5, inner_folds=3, random_state=3, tune_features=True,
                    ensemble_top=2)  # fmt: skip
    return TunedClassifier("logreg", oof_split=oof_split, **{**settings, **kwargs})


def test_fresh_split_changes_only_the_meta_features(rng) -> None:
    X, y = _data(rng)
    tuning = _tuned("tuning").fit(X, y)
    fresh = _tuned("fresh").fit(X, y)
    # the search, the chosen configurations and the refitted models are the same
    assert fresh.best_params_ == tuning.best_params_
    np.testing.assert_array_equal(fresh.tuning_oof_proba_, tuning.oof_proba_)
    np.testing.assert_allclose(fresh.predict_proba(X), tuning.predict_proba(X))
    # the meta-features come from other folds: every row predicted, by other models
    assert np.isfinite(fresh.oof_proba_).all()
    assert not np.allclose(fresh.oof_proba_, fresh.tuning_oof_proba_)
    first = inner_splits(X, y, 3, 3)
    second = inner_splits(X, y, 3, 3 + FRESH_SEED_OFFSET)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, second, strict=True))


def test_fresh_split_is_the_chosen_configurations_cross_fitted_again(rng) -> None:
    X, y = _data(rng)
    fresh = _tuned("fresh").fit(X, y)
    chosen = [m.params for m in fresh.estimator_.members]
    splits = inner_splits(X, y, 3, 3 + FRESH_SEED_OFFSET)
    from radiopipe.modeling.members import feature_order

    orders = {i: feature_order(X[tr], y[tr]) for i, (tr, _) in enumerate(splits)}
    runs = [fresh._cross_fit(X, y, splits, params, orders)[0] for params in chosen]
    np.testing.assert_allclose(fresh.oof_proba_, np.mean(runs, axis=0))


def test_tuning_split_probabilities_are_optimistic_on_noise() -> None:
    """On features without signal the trials chosen on the tuning folds look better there than
    on a fresh split: the bias the fresh split keeps out of the meta-learner's weights."""
    gaps = []
    for seed in range(8):
        X, y = _data(np.random.default_rng(seed), n=60, p=200, effect=0.0)
        model = TunedClassifier("svm", n_trials=12, inner_folds=3, random_state=seed,
                                tune_features=True, oof_split="fresh").fit(X, y)  # fmt: skip
        gaps.append(roc_auc_score(y, model.tuning_oof_proba_) - roc_auc_score(y, model.oof_proba_))
    assert np.mean(gaps) > 0.02 and np.mean(np.array(gaps) > 0) >= 0.75


def test_unknown_oof_split_is_refused(rng) -> None:
    X, y = _data(rng)
    with pytest.raises(ValueError, match="oof_split"):
        _tuned("holdout").fit(X, y)
    with pytest.raises(ValueError, match="oof_split"):
        ModelConfig.model_validate({"stack": {"oof_split": "holdout"}})


def test_select_combiner_is_the_best_single_learner(rng) -> None:
    y = np.r_[np.zeros(60), np.ones(60)]
    good = np.clip(0.5 + 0.25 * (y - 0.5) + rng.normal(0, 0.15, 120), 0, 1)
    weaker = np.clip(0.5 + 0.1 * (y - 0.5) + rng.normal(0, 0.15, 120), 0, 1)
    P = np.column_stack([weaker, good, 1 - good])
    select = meta_learner("select", 1.0).fit(P, y)
    np.testing.assert_array_equal(select.coef_, [0, 1, 0])
    np.testing.assert_allclose(select.predict_proba(P)[:, 1], good)
    tie = ConvexCombiner("select").fit(np.column_stack([good, good]), y)
    np.testing.assert_array_equal(tie.coef_, [1, 0])  # ties go to the earlier learner


def test_methods_text_says_where_the_meta_features_come_from() -> None:
    from radiopipe.report.methods import _meta_inputs

    fresh = _meta_inputs({"stack": {"oof_split": "fresh"}}, 5)
    assert "second, differently seeded 5-fold inner split" in fresh
    assert "not the folds their hyperparameters were chosen on" in fresh
    assert _meta_inputs({"stack": {"method": "logistic"}}, 5) == "their out-of-fold probabilities"


def test_pipeline_passes_the_split_to_every_learner(two_site_cohort) -> None:
    X = model_frame(two_site_cohort)
    y = two_site_cohort.clinical["label"].to_numpy()
    config = tuned_learners_config(2, method="select", oof_split="fresh")
    stack = build_pipeline(config, 0, has_sites=True).fit(X.iloc[:70], y[:70])[-1]
    for learner in stack.named_learners_.values():
        assert learner.oof_split == "fresh"
        assert not np.allclose(learner.oof_proba_, learner.tuning_oof_proba_)
    meta = np.column_stack([e.oof_proba_ for e in stack.named_learners_.values()])
    expected = ConvexCombiner("select").fit(meta, stack.inner_y_).coef_
    np.testing.assert_allclose(stack.meta_learner_.coef_, expected)
