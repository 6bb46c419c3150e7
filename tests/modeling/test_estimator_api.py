"""Every step is a scikit-learn estimator: the library's own checks, clone, params, one Pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from radiopipe.modeling.clean import ConstantFilter, MedianImputer
from radiopipe.modeling.harmonise import ComBatHarmoniser, DropMeta
from radiopipe.modeling.lasso import LassoLogisticClassifier, LassoSelector
from radiopipe.modeling.pipeline_factory import STEPS, build_baseline, build_pipeline
from radiopipe.modeling.select import ICCFilter, PearsonFilter, TTestFilter
from radiopipe.modeling.stacking import StackingEnsemble
from radiopipe.modeling.tuning import TunedClassifier

from .conftest import model_frame, tiny_config

_TINY = {"inner_folds": 2, "random_state": 0}
ESTIMATORS = [
    MedianImputer(),
    ConstantFilter(),
    ICCFilter(),
    TTestFilter(),
    PearsonFilter(),
    DropMeta(),
    LassoSelector(n_strengths=3, **_TINY),
    LassoLogisticClassifier(n_strengths=3, **_TINY),
    TunedClassifier("lightgbm", n_trials=0, **_TINY),
    StackingEnsemble([("svm", TunedClassifier("svm", n_trials=0, **_TINY))]),
]
TOO_SMALL = "the check's 10-patient data leave < 2 patients per class for inner CV + Platt folds"


def _expected_failures(estimator: object) -> dict[str, str]:
    if isinstance(estimator, StackingEnsemble):
        return {"check_fit2d_1feature": TOO_SMALL}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


def test_combat_clone_params_and_unfitted() -> None:
    step = ComBatHarmoniser(covariates=("age",), parametric=False, reference_site="A")
    copy = clone(step)
    assert copy.get_params() == step.get_params() and copy is not step
    copy.set_params(mean_only=True, unseen_site="error")
    assert copy.mean_only and not step.mean_only
    with pytest.raises(NotFittedError):
        step.transform(None)


def test_one_pipeline_every_step_switchable(two_site_cohort) -> None:
    """The factory builds one imblearn Pipeline; cloning it clones every step; steps switch off."""
    pipeline = build_pipeline(tiny_config(), seed=0, has_sites=True)
    assert tuple(pipeline.named_steps) == STEPS
    assert type(pipeline).__module__ == "imblearn.pipeline"
    assert isinstance(pipeline.named_steps["harmonise"], ComBatHarmoniser)
    assert clone(pipeline).get_params()["lasso__n_strengths"] == 6
    off = tiny_config(
        impute={"enabled": False},
        constant={"enabled": False},
        icc={"enabled": False},
        harmonise={"method": "none"},
        scale={"method": "none"},
        balance={"method": "none"},
        ttest={"enabled": False},
        pearson={"enabled": False},
        lasso={"enabled": False},
        learners={"names": ["svm"], "n_trials": 0},
    )
    bare = build_pipeline(off, seed=0, has_sites=True)
    switchable = {"impute", "constant", "icc", "scale", "balance", "ttest", "pearson", "lasso"}
    assert {n for n, s in bare.steps if s == "passthrough"} == switchable
    assert isinstance(bare.named_steps["harmonise"], DropMeta)
    X = model_frame(two_site_cohort).iloc[:60]
    y = two_site_cohort.clinical["label"].to_numpy()[:60]
    fitted = bare.fit(X, y)
    assert fitted.predict_proba(X).shape == (60, 2)
    swapped = tiny_config(scale={"method": "robust"}, balance={"method": "class_weight"})
    built = build_pipeline(swapped, seed=0, has_sites=False)
    assert type(built.named_steps["scale"]).__name__ == "RobustScaler"
    assert built.named_steps["balance"] == "passthrough"
    learner = dict(built.named_steps["model"].learners)["rf"]
    assert learner.class_weight == "balanced"
    assert isinstance(
        build_baseline(swapped, 0, False).named_steps["model"], LassoLogisticClassifier
    )


def test_smote_runs_in_fit_only(two_site_cohort) -> None:
    config = tiny_config(learners={"names": ["svm"], "n_trials": 0})
    X = model_frame(two_site_cohort)
    y = np.asarray(two_site_cohort.clinical["label"])
    y[:30] = 1  # imbalanced
    pipeline = build_pipeline(config, seed=0, has_sites=True).fit(X, y)
    assert pipeline.named_steps["balance"].n_synthetic_ == (y == 1).sum() - (y == 0).sum() > 20
    assert pipeline.predict_proba(X).shape == (90, 2)  # no resampling at predict time
