"""A base learner tuned by Bayesian optimisation (Optuna TPE) on inner stratified CV, AUC.

The tuning sees only the data given to ``fit`` (the outer training fold, after the pipeline's
own steps). Inner folds hold real patients only; with a ``sampler`` (SMOTE) the inner training
folds are oversampled afresh, so no synthetic patient is ever validated on. The out-of-fold
probabilities of the best trial are kept (``oof_proba_``): the stacking meta-learner is fitted
on them. The library defaults are the first trial, so tuning never ends below them.

Budget: ``n_trials`` and ``timeout`` (seconds). With the same seed the result is reproducible
as long as the trial budget, not the clock, stops the search; a note is logged otherwise.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.utils.validation import check_is_fitted, validate_data

from radiopipe.modeling.base import BinaryClassifierMixin, as_binary_target
from radiopipe.modeling.columns import real_rows
from radiopipe.modeling.learners import (
    DEFAULT_SPACES,
    default_params,
    in_space,
    make_learner,
    suggest,
)
from radiopipe.modeling.resample import inner_splits, resample

log = logging.getLogger(__name__)


class TunedClassifier(BinaryClassifierMixin, ClassifierMixin, BaseEstimator):
    """One base learner (``svm``, ``rf``, ``lightgbm``, ``mlp``) tuned by Optuna on inner CV."""

    def __init__(
        self,
        learner: str = "svm",
        search_space: dict[str, dict[str, Any]] | None = None,
        n_trials: int = 30,
        timeout: float | None = None,
        inner_folds: int = 5,
        sampler: object | None = None,
        class_weight: str | None = None,
        random_state: int | None = None,
    ) -> None:
        self.learner = learner
        self.search_space = search_space
        self.n_trials = n_trials
        self.timeout = timeout
        self.inner_folds = inner_folds
        self.sampler = sampler
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: object, y: object) -> TunedClassifier:
        """Tune on inner CV, keep the best trial's out-of-fold probabilities, refit on all rows."""
        import optuna

        real = real_rows(X)
        array, y_raw = validate_data(self, X, y, dtype=np.float64)
        y = as_binary_target(y_raw)
        self.classes_ = np.unique(y_raw)
        splits = inner_splits(X, y, self.inner_folds, self.random_state)
        space = self.search_space or DEFAULT_SPACES[self.learner]
        defaults = in_space(default_params(self.learner, array.shape[1], array.shape[0]), space)
        best: dict[str, Any] = {"value": -np.inf, "oof": None, "params": defaults}

        def objective(trial: Any) -> float:
            params = suggest(trial, space)
            oof, value = self._cross_fit(array, y, splits, params)
            if value > best["value"]:
                best.update(value=value, oof=oof, params=params)
            return value

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        started = time.perf_counter()
        if self.n_trials > 0:
            study = optuna.create_study(
                direction="maximize", sampler=optuna.samplers.TPESampler(seed=self.random_state)
            )
            study.enqueue_trial(defaults, skip_if_exists=True)
            study.optimize(objective, n_trials=self.n_trials, timeout=self.timeout)
            self.trials_ = [_trial_record(t) for t in study.trials]
            if len(study.trials) < self.n_trials:
                log.warning(
                    "%s: time budget (%.0f s) stopped tuning after %d of %d trials; results now "
                    "depend on machine speed (raise the timeout for reproducible runs)",
                    self.learner,
                    self.timeout,
                    len(study.trials),
                    self.n_trials,
                )
        else:
            oof, value = self._cross_fit(array, y, splits, defaults)
            best.update(value=value, oof=oof)
            duration = time.perf_counter() - started
            self.trials_ = [
                {
                    "trial": 0,
                    "params": json.dumps(defaults, sort_keys=True),
                    "value": value,
                    "duration": duration,
                    "state": "COMPLETE",
                },
            ]
        self.best_params_ = dict(best["params"])
        self.best_score_ = float(best["value"])
        oof = np.full(len(y), np.nan)
        oof[real] = best["oof"][real]
        self.oof_proba_ = oof
        self.estimator_ = self._make(self.best_params_, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.estimator_.fit(array, y)
        return self

    def _make(self, params: dict[str, Any], y: np.ndarray) -> ClassifierMixin:
        smallest = int(np.bincount(y, minlength=2).min())
        return make_learner(
            self.learner, params, self.random_state, self.class_weight, min(5, smallest)
        )

    def _cross_fit(
        self, X: np.ndarray, y: np.ndarray, splits: list, params: dict[str, Any]
    ) -> tuple[np.ndarray, float]:
        """Out-of-fold probabilities (NaN outside the validation rows) and mean fold AUC."""
        oof = np.full(len(y), np.nan)
        aucs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for train, test in splits:
                X_train, y_train = resample(self.sampler, X[train], y[train])
                model = self._make(params, y_train).fit(X_train, y_train)
                oof[test] = model.predict_proba(X[test])[:, 1]
                aucs.append(roc_auc_score(y[test], oof[test]))
        return oof, float(np.mean(aucs))

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities of the refitted best model."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(validate_data(self, X, reset=False, dtype=np.float64))

    def predict(self, X: object) -> np.ndarray:
        """Predicted class (probability >= 0.5)."""
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]


def _trial_record(trial: Any) -> dict[str, Any]:
    """One Optuna trial as plain, JSON-friendly data."""
    duration = trial.duration.total_seconds() if trial.duration is not None else float("nan")
    return {
        "trial": int(trial.number),
        "params": json.dumps(trial.params, sort_keys=True),
        "value": float(trial.value) if trial.value is not None else float("nan"),
        "duration": duration,
        "state": trial.state.name,
    }
