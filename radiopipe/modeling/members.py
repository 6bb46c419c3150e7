"""Pieces of a base learner whose selection depth and balancing are tuned with it.

With ``tune_features`` a learner sees only its ``n_features`` best features, ranked by the
Welch t statistic on the rows it is trained on (the inner training fold while tuning, all
training rows for the refit), so the number of features is a hyperparameter chosen by inner
CV like any other and no validation row ever ranks a feature. With ``balance`` tuned, each
trial picks SMOTE, class weights or nothing. A fitted configuration is a :class:`Member`;
several members (the best trials) average into one learner (WORC's top-N ensembling).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

FEATURES, BALANCE = "n_features", "balance"
BALANCE_CHOICES = ("smote", "class_weight", "none")


def feature_order(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Column positions from the most to the least outcome-associated (|Welch t|, stable)."""
    # (near-)constant columns give t = NaN (ranked last) or an imprecise t, not a warning
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t = stats.ttest_ind(X[y == 1], X[y == 0], axis=0, equal_var=False).statistic
    score = np.nan_to_num(np.abs(np.asarray(t, dtype=np.float64)), nan=0.0)
    return np.argsort(-score, kind="stable")


def features_space(n_features: int) -> dict[str, object]:
    """The search dimension of the selection depth: 2 (or 1) .. ``n_features``, log scale."""
    return {"type": "int", "low": min(2, n_features), "high": n_features, "log": True}


def split_params(params: dict[str, object]) -> tuple[dict[str, object], int | None, str | None]:
    """``(learner params, n_features or None, balance or None)`` of one trial's params."""
    rest = {k: v for k, v in params.items() if k not in (FEATURES, BALANCE)}
    k = params.get(FEATURES)
    balance = params.get(BALANCE)
    return rest, None if k is None else int(k), None if balance is None else str(balance)


class Member:
    """One fitted configuration: the columns it uses and its model (refitted on all rows).

    Plain object (not an estimator): it has no ``estimator_``, so explanation tools treat
    the learner that holds it as a black box over all its input columns.
    """

    def __init__(self, columns: np.ndarray | None, model: object, params: dict) -> None:
        self.columns = columns
        self.model = model
        self.params = params

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities of the member's model on its columns."""
        X = np.asarray(X, dtype=np.float64)
        return self.model.predict_proba(X if self.columns is None else X[:, self.columns])


class MemberAverage:
    """The mean class probabilities of several members (one when not ensembling)."""

    def __init__(self, members: list[Member]) -> None:
        self.members = members

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Mean of the members' class probabilities."""
        return np.mean([m.predict_proba(X) for m in self.members], axis=0)
