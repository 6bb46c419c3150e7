"""LASSO (L1 logistic regression) with its strength chosen by inner cross-validation (AUC).

Used twice: as the last feature filter of the radiomics pipeline (:class:`LassoSelector`) and as
the plain penalised baseline model ``lasso_lr`` (:class:`LassoLogisticClassifier`).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.svm import l1_min_c
from sklearn.utils.validation import check_is_fitted, validate_data

from radiopipe.modeling.base import BinaryClassifierMixin, FeatureFilter, as_binary_target
from radiopipe.modeling.resample import inner_splits, resample, take_rows

log = logging.getLogger(__name__)

_SKLEARN_L1_RATIO = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8)
INTERCEPT_SCALING = (
    100.0  # liblinear penalises the intercept; a large scaling makes that negligible
)


def l1_logistic(
    C: float, class_weight: object = None, random_state: int | None = None
) -> LogisticRegression:
    """An L1-penalised logistic regression (liblinear), across scikit-learn versions."""
    return penalised_logistic(C, "l1", class_weight, random_state)


def penalised_logistic(
    C: float, penalty: str = "l1", class_weight: object = None, random_state: int | None = None
) -> LogisticRegression:
    """An L1- or L2-penalised logistic regression (liblinear), across scikit-learn versions."""
    if penalty not in ("l1", "l2"):
        raise ValueError(f"penalty must be 'l1' or 'l2', got {penalty!r}")
    ratio = 1.0 if penalty == "l1" else 0.0
    kind = {"l1_ratio": ratio} if _SKLEARN_L1_RATIO else {"penalty": penalty}
    return LogisticRegression(
        C=C,
        solver="liblinear",
        class_weight=class_weight,
        random_state=random_state,
        intercept_scaling=INTERCEPT_SCALING,
        max_iter=1000,
        **kind,
    )


def strength_grid(X: np.ndarray, y: np.ndarray, n_strengths: int, span: float) -> np.ndarray:
    """Inverse strengths C from the smallest that selects any feature up to ``span`` times it."""
    c_min = l1_min_c(X, y, loss="log", intercept_scaling=INTERCEPT_SCALING)
    return c_min * np.logspace(0, np.log10(span), n_strengths)


def cross_validated_auc(
    X: object,
    y: np.ndarray,
    strengths: np.ndarray,
    *,
    n_splits: int,
    sampler: object | None,
    class_weight: object,
    random_state: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the inner-CV AUC of each strength (real rows validate)."""
    aucs = np.zeros((0, len(strengths)))
    for train, test in inner_splits(X, y, n_splits, random_state):
        X_train, y_train = resample(sampler, take_rows(X, train), y[train])
        X_train = np.asarray(X_train, dtype=np.float64)
        X_test = np.asarray(take_rows(X, test), dtype=np.float64)
        row = []
        for C in strengths:
            model = l1_logistic(C, class_weight, random_state).fit(X_train, y_train)
            row.append(roc_auc_score(y[test], model.decision_function(X_test)))
        aucs = np.vstack([aucs, row])
    return aucs.mean(axis=0), aucs.std(axis=0, ddof=1) / np.sqrt(len(aucs))


class _LassoBase(BaseEstimator):
    """Shared fitting: pick C by inner CV, refit on all rows given."""

    def _fit_lasso(self, X: object, y: object) -> tuple[np.ndarray, np.ndarray]:
        array, y_raw = validate_data(self, X, y, dtype=np.float64)
        y = as_binary_target(y_raw)
        if self.rule not in ("best", "1se"):
            raise ValueError(f"rule must be 'best' or '1se', got {self.rule!r}")
        strengths = strength_grid(array, y, self.n_strengths, self.span)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mean, se = cross_validated_auc(
                X,
                y,
                strengths,
                n_splits=self.inner_folds,
                sampler=self.sampler,
                class_weight=self.class_weight,
                random_state=self.random_state,
            )
            best = int(np.argmax(mean))
            if self.rule == "1se":
                best = int(np.flatnonzero(mean >= mean[best] - se[best])[0])
            self.strengths_, self.cv_auc_ = strengths, mean
            self.C_ = float(strengths[best])
            self.estimator_ = l1_logistic(self.C_, self.class_weight, self.random_state)
            self.estimator_.fit(array, y)
        self.classes_ = np.unique(y_raw)
        return array, y


class LassoSelector(FeatureFilter, _LassoBase):
    """Keep the features with a non-zero coefficient in an L1 logistic regression.

    The strength is the one with the best inner-CV AUC (``rule="best"``) or the sparsest within
    one standard error of it (``"1se"``). Fewer than ``min_features`` selected: C is raised along
    the grid until enough are; more than ``max_features``: the largest |coefficients| are kept.
    """

    requires_y = True

    def __init__(
        self,
        n_strengths: int = 20,
        span: float = 1e4,
        inner_folds: int = 5,
        rule: str = "best",
        min_features: int = 1,
        max_features: int | None = None,
        sampler: object | None = None,
        class_weight: object = None,
        random_state: int | None = None,
    ) -> None:
        self.n_strengths = n_strengths
        self.span = span
        self.inner_folds = inner_folds
        self.rule = rule
        self.min_features = min_features
        self.max_features = max_features
        self.sampler = sampler
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: object, y: object) -> LassoSelector:
        """Choose the strength by inner CV and select the non-zero coefficients."""
        array, y = self._fit_lasso(X, y)
        coef = self.estimator_.coef_.ravel()
        if np.count_nonzero(coef) < min(self.min_features, array.shape[1]):
            coef = self._top_up(array, y)
        if self.max_features is not None and np.count_nonzero(coef) > self.max_features:
            keep = np.argsort(-np.abs(coef), kind="stable")[: self.max_features]
            coef = np.where(np.isin(np.arange(len(coef)), keep), coef, 0.0)
        self.coef_ = coef
        self.support_ = coef != 0
        self.n_features_out_ = int(self.support_.sum())
        return self

    def _top_up(self, array: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Raise C along the grid until ``min_features`` coefficients are non-zero."""
        wanted = min(self.min_features, array.shape[1])
        coef = self.estimator_.coef_.ravel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for C in self.strengths_[self.strengths_ > self.C_]:
                model = l1_logistic(C, self.class_weight, self.random_state).fit(array, y)
                coef = model.coef_.ravel()
                if np.count_nonzero(coef) >= wanted:
                    break
        if np.count_nonzero(coef) < wanted:
            order = np.argsort(-np.abs(coef), kind="stable")[:wanted]
            coef = coef.copy()
            coef[order] = np.where(coef[order] == 0, 1e-12, coef[order])
        log.info("LASSO: the CV-best strength kept too few features; C raised to keep %d", wanted)
        return coef

    def _support(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError  # fit is overridden


class LassoLogisticClassifier(BinaryClassifierMixin, ClassifierMixin, _LassoBase):
    """The ``lasso_lr`` baseline: L1 logistic regression, strength by inner-CV AUC."""

    def __init__(
        self,
        n_strengths: int = 20,
        span: float = 1e4,
        inner_folds: int = 5,
        rule: str = "best",
        sampler: object | None = None,
        class_weight: object = None,
        random_state: int | None = None,
    ) -> None:
        self.n_strengths = n_strengths
        self.span = span
        self.inner_folds = inner_folds
        self.rule = rule
        self.sampler = sampler
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: object, y: object) -> LassoLogisticClassifier:
        """Choose the strength by inner CV and refit on all rows."""
        self._fit_lasso(X, y)
        self.coef_ = self.estimator_.coef_.ravel()
        return self

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities (columns: class 0, class 1)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(validate_data(self, X, reset=False, dtype=np.float64))

    def decision_function(self, X: object) -> np.ndarray:
        """The linear predictor."""
        check_is_fitted(self, "estimator_")
        array = validate_data(self, X, reset=False, dtype=np.float64)
        return self.estimator_.decision_function(array)

    def predict(self, X: object) -> np.ndarray:
        """Predicted class (probability >= 0.5)."""
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]
