"""SMOTE after selection: the ICC, t-test, Pearson and LASSO filters see real patients only."""

from __future__ import annotations

import numpy as np
import pytest

from radiopipe.modeling.pipeline_factory import build_pipeline

from .conftest import model_frame, tiny_config

FILTERS = ("ttest", "pearson", "lasso")


def _imbalanced(cohort) -> tuple[object, np.ndarray]:
    X = model_frame(cohort)
    y = np.asarray(cohort.clinical["label"]).copy()
    y[:30] = 1  # about 2:1, so SMOTE invents a third as many patients again
    return X, y


def _kept(pipeline) -> dict[str, list[str]]:
    return {name: list(pipeline.named_steps[name].get_feature_names_out()) for name in FILTERS}


def _fit(cohort, **balance: object):
    config = tiny_config(learners={"names": ["svm"], "n_trials": 0}, balance=balance)
    X, y = _imbalanced(cohort)
    return build_pipeline(config, seed=0, has_sites=True).fit(X, y), y


def test_filters_select_the_same_features_with_and_without_smote(two_site_cohort) -> None:
    smote, y = _fit(two_site_cohort, method="smote")
    plain, _ = _fit(two_site_cohort, method="none")
    names = list(smote.named_steps)
    assert names.index("balance") == names.index("model") - 1  # just before the learners
    assert smote.named_steps["balance"].n_synthetic_ == (y == 1).sum() - (y == 0).sum()
    assert smote.named_steps["lasso"].sampler is None  # no synthetic rows in LASSO's inner CV
    assert _kept(smote) == _kept(plain)
    pvalues = smote.named_steps["ttest"].pvalues_
    np.testing.assert_array_equal(pvalues, plain.named_steps["ttest"].pvalues_)


def test_before_selection_reproduces_the_published_order(two_site_cohort) -> None:
    """The paper's order is kept on request; its t-test then sees synthetic patients."""
    early, _ = _fit(two_site_cohort, method="smote", stage="before_selection")
    plain, _ = _fit(two_site_cohort, method="none")
    names = list(early.named_steps)
    assert names.index("balance") == names.index("ttest") - 1
    assert early.named_steps["lasso"].sampler is not None
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(
            early.named_steps["ttest"].pvalues_, plain.named_steps["ttest"].pvalues_
        )
