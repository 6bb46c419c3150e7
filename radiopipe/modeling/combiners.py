"""Meta-learners of the stack that cannot lose badly to their inputs: convex combinations.

``mean``: the plain average of the base learners' probabilities. ``nonnegative``: the
Super Learner's combination, non-negative least squares of the outcome on the base learners'
out-of-fold probabilities, weights scaled to sum to one (equal weights when every weight is
zero). ``select``: the single learner with the best out-of-fold AUC (the discrete Super
Learner). Either way the stack's probability is a weighted average of its base learners', so
four correlated probabilities cannot produce the unstable, sign-flipping coefficients a free
logistic regression can fit on a few dozen patients.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls
from sklearn.metrics import roc_auc_score

METHODS = ("logistic", "mean", "nonnegative", "select")
CONVEX = METHODS[1:]


class ConvexCombiner:
    """``predict_proba`` of a weighted average of probability columns (weights >= 0, sum 1)."""

    def __init__(self, method: str = "nonnegative") -> None:
        if method not in CONVEX:
            raise ValueError(f"a convex combiner is one of {', '.join(CONVEX)}, got {method!r}")
        self.method = method

    def fit(self, P: np.ndarray, y: np.ndarray) -> ConvexCombiner:
        """Weights from the out-of-fold probabilities ``P`` (patients x models) and labels."""
        P = np.asarray(P, dtype=np.float64)
        m = P.shape[1]
        weights = np.full(m, 1.0 / m)
        if self.method == "nonnegative":
            raw, _ = nnls(P, np.asarray(y, dtype=np.float64))
            if raw.sum() > 0:
                weights = raw / raw.sum()
        elif self.method == "select":
            aucs = [roc_auc_score(y, P[:, j]) for j in range(m)]
            weights = np.eye(m)[int(np.argmax(aucs))]  # ties: the earlier learner
        self.coef_ = weights
        return self

    def predict_proba(self, P: np.ndarray) -> np.ndarray:
        """``[1 - p, p]`` with ``p`` the weighted average of the columns of ``P``."""
        p = np.clip(np.asarray(P, dtype=np.float64) @ self.coef_, 0.0, 1.0)
        return np.column_stack([1.0 - p, p])


def meta_learner(method: str, C: float) -> object:
    """A fresh meta-learner: logistic regression (``C``) or a convex combination."""
    if method == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=C)
    if method not in METHODS:
        raise ValueError(f"stack method must be one of {', '.join(METHODS)}, got {method!r}")
    return ConvexCombiner(method)
