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
from radiopipe.modeling.members import (
    BALANCE,
    BALANCE_CHOICES,
    FEATURES,
    Member,
    MemberAverage,
    feature_order,
    features_space,
    split_params,
)
from radiopipe.modeling.resample import inner_splits, resample

log = logging.getLogger(__name__)

OOF_SPLITS = ("tuning", "fresh")
FRESH_SEED_OFFSET = 7919  # the second inner split's seed: the tuning seed + this prime


class TunedClassifier(BinaryClassifierMixin, ClassifierMixin, BaseEstimator):
    """One base learner (``svm``, ``rf``, ``lightgbm``, ``mlp``, ``logreg``) tuned by Optuna.

    ``tune_features``: the number of features (ranked by |Welch t| within each training fold)
    is searched with the learner's hyperparameters; ``balance_choices``: SMOTE, class weights
    or nothing is chosen per trial (instead of ``sampler``/``class_weight``); ``ensemble_top``:
    the best N trials are refitted and averaged. All three off reproduce the plain learner.
    ``max_features``: the upper end of the tuned number of features (None: all).
    ``oof_split``: where ``oof_proba_`` (the stack's meta-features) comes from. ``tuning``: the
    inner folds the trials were chosen on (optimistic: the chosen configurations fit those
    folds' noise best, most for the learners with the largest search). ``fresh``: the chosen
    configurations cross-fitted again on a second, differently seeded inner split, so the
    meta-learner weighs the learners on folds their hyperparameters were not chosen on.
    ``tuning_oof_proba_`` keeps the tuning split's probabilities either way.
    """

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
        tune_features: bool = False,
        balance_choices: tuple[str, ...] | None = None,
        ensemble_top: int = 1,
        max_features: int | None = None,
        oof_split: str = "tuning",
    ) -> None:
        self.learner = learner
        self.search_space = search_space
        self.n_trials = n_trials
        self.timeout = timeout
        self.inner_folds = inner_folds
        self.sampler = sampler
        self.class_weight = class_weight
        self.random_state = random_state
        self.tune_features = tune_features
        self.balance_choices = balance_choices
        self.ensemble_top = ensemble_top
        self.max_features = max_features
        self.oof_split = oof_split

    def fit(self, X: object, y: object) -> TunedClassifier:
        """Tune on inner CV, keep the best trial's out-of-fold probabilities, refit on all rows."""
        import optuna

        if self.oof_split not in OOF_SPLITS:
            raise ValueError(f"oof_split is one of {', '.join(OOF_SPLITS)}, got {self.oof_split!r}")
        real = real_rows(X)
        array, y_raw = validate_data(self, X, y, dtype=np.float64)
        y = as_binary_target(y_raw)
        self.classes_ = np.unique(y_raw)
        splits = inner_splits(X, y, self.inner_folds, self.random_state)
        space, defaults = self._space(array.shape)
        orders: dict[int, np.ndarray] = {}
        if self.tune_features:
            orders = {i: feature_order(array[tr], y[tr]) for i, (tr, _) in enumerate(splits)}
        records: list[tuple[float, int, np.ndarray, dict[str, Any]]] = []

        def objective(trial: Any) -> float:
            params = suggest(trial, space)
            oof, value = self._cross_fit(array, y, splits, params, orders)
            records.append((value, trial.number, oof, params))
            return value

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        started = time.perf_counter()
        self.budget_stopped_ = False
        if self.n_trials > 0:
            study = optuna.create_study(
                direction="maximize", sampler=optuna.samplers.TPESampler(seed=self.random_state)
            )
            study.enqueue_trial(defaults, skip_if_exists=True)
            study.optimize(objective, n_trials=self.n_trials, timeout=self.timeout)
            self.trials_ = [_trial_record(t) for t in study.trials]
            if len(study.trials) < self.n_trials:
                self.budget_stopped_ = True
                log.warning(
                    "%s: time budget (%.0f s) stopped tuning after %d of %d trials; results now "
                    "depend on machine speed (raise the timeout for reproducible runs)",
                    self.learner,
                    self.timeout,
                    len(study.trials),
                    self.n_trials,
                )
        else:
            oof, value = self._cross_fit(array, y, splits, defaults, orders)
            records.append((value, 0, oof, defaults))
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
        chosen = _best(records, max(1, self.ensemble_top))
        self.best_params_ = dict(chosen[0][3])
        self.best_score_ = float(chosen[0][0])
        self.tuning_oof_proba_ = _mean_oof([record[2] for record in chosen], real)
        self.oof_proba_ = self.tuning_oof_proba_
        if self.oof_split == "fresh":
            self.oof_proba_ = self._fresh_oof(X, array, y, real, [r[3] for r in chosen])
        plain = not (self.tune_features or self.balance_choices or self.ensemble_top > 1)
        order = feature_order(array[real], y[real]) if self.tune_features else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            members = [self._refit(array, y, record[3], order) for record in chosen]
        self.estimator_ = members[0].model if plain else MemberAverage(members)
        return self

    def _fresh_oof(
        self,
        X: object,
        array: np.ndarray,
        y: np.ndarray,
        real: np.ndarray,
        chosen: list[dict[str, Any]],
    ) -> np.ndarray:
        """Out-of-fold probabilities of the chosen configurations on a second inner split."""
        seed = None if self.random_state is None else self.random_state + FRESH_SEED_OFFSET
        splits = inner_splits(X, y, self.inner_folds, seed)
        orders: dict[int, np.ndarray] = {}
        if self.tune_features:
            orders = {i: feature_order(array[tr], y[tr]) for i, (tr, _) in enumerate(splits)}
        runs = [self._cross_fit(array, y, splits, params, orders)[0] for params in chosen]
        return _mean_oof(runs, real)

    def _space(self, shape: tuple[int, int]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The search space (with selection depth and balancing when tuned) and its defaults."""
        space = dict(self.search_space or DEFAULT_SPACES[self.learner])
        n_samples, n_features = shape
        defaults = in_space(default_params(self.learner, n_features, n_samples), space)
        if self.tune_features:
            most = min(n_features, self.max_features or n_features)
            space[FEATURES] = features_space(most)
            defaults[FEATURES] = most
        if self.balance_choices:
            unknown = set(self.balance_choices) - set(BALANCE_CHOICES)
            if unknown:
                raise ValueError(f"unknown balance choice(s) {sorted(unknown)}")
            space[BALANCE] = {"type": "categorical", "choices": list(self.balance_choices)}
            defaults[BALANCE] = self.balance_choices[0]
        return space, defaults

    def _balancing(self, balance: str | None) -> tuple[object | None, str | None]:
        """``(sampler, class_weight)`` of a trial's balance choice (the fixed ones without)."""
        if balance is None:
            return self.sampler, self.class_weight
        if balance == "smote":
            from radiopipe.modeling.resample import MarkedSMOTE

            return self.sampler or MarkedSMOTE(random_state=self.random_state), None
        return None, "balanced" if balance == "class_weight" else None

    def _refit(
        self, X: np.ndarray, y: np.ndarray, params: dict[str, Any], order: np.ndarray | None
    ) -> Member:
        """One configuration refitted on all rows given."""
        rest, k, balance = split_params(params)
        sampler, weight = self._balancing(balance)
        columns = None if order is None or k is None else np.sort(order[:k])
        X_fit = X if columns is None else X[:, columns]
        # a fixed sampler already ran in the pipeline (these rows hold its synthetic patients)
        X_fit, y_fit = resample(sampler if balance is not None else None, X_fit, y)
        return Member(columns, self._make(rest, y_fit, weight).fit(X_fit, y_fit), params)

    def _make(
        self, params: dict[str, Any], y: np.ndarray, class_weight: str | None = None
    ) -> ClassifierMixin:
        smallest = int(np.bincount(y, minlength=2).min())
        weight = class_weight if self.balance_choices else self.class_weight
        if self.learner == "mlp":
            weight = None  # scikit-learn's MLP takes no class weights
        return make_learner(self.learner, params, self.random_state, weight, min(5, smallest))

    def _cross_fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        splits: list,
        params: dict[str, Any],
        orders: dict[int, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, float]:
        """Out-of-fold probabilities (NaN outside the validation rows) and mean fold AUC."""
        rest, k, balance = split_params(params)
        sampler, weight = self._balancing(balance)
        oof = np.full(len(y), np.nan)
        aucs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for i, (train, test) in enumerate(splits):
                columns = np.sort(orders[i][:k]) if orders and k is not None else None
                X_train = X[train] if columns is None else X[train][:, columns]
                X_test = X[test] if columns is None else X[test][:, columns]
                X_train, y_train = resample(sampler, X_train, y[train])
                model = self._make(rest, y_train, weight).fit(X_train, y_train)
                oof[test] = model.predict_proba(X_test)[:, 1]
                aucs.append(roc_auc_score(y[test], oof[test]))
        return oof, float(np.mean(aucs))

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities of the refitted best model (or the mean of the best N)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(validate_data(self, X, reset=False, dtype=np.float64))

    def predict(self, X: object) -> np.ndarray:
        """Predicted class (probability >= 0.5)."""
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]


def _mean_oof(runs: list[np.ndarray], real: np.ndarray) -> np.ndarray:
    """The mean of several out-of-fold probability vectors, NaN on synthetic rows."""
    oof = np.full(len(runs[0]), np.nan)
    oof[real] = np.mean(runs, axis=0)[real]
    return oof


def _best(records: list, n: int) -> list:
    """The ``n`` best trials (value, then earliest first), distinct parameter sets only."""
    ranked = sorted(records, key=lambda r: (-r[0], r[1]))
    chosen, seen = [], set()
    for record in ranked:
        key = json.dumps(record[3], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            chosen.append(record)
        if len(chosen) == n:
            break
    return chosen


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
