"""Per-fold operating thresholds of the nested-CV design, chosen without the rows they score.

Each outer fold's threshold is the maximum-Youden cut on the inner out-of-fold probabilities of
that fold's own training patients: the stack's base learners keep theirs (``oof_proba_``, the
tuning CV), the stack is scored by its meta-learner on those out-of-fold inputs, and the
``lasso_lr`` baseline is cross-fitted on the same inner folds. The threshold is then applied to
the fold's held-out patients (evaluate reads ``fold_thresholds.csv``), so no threshold is ever
chosen on rows it scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from radiopipe.modeling.pipeline_factory import front_of
from radiopipe.modeling.validation import youden_threshold

FOLD_THRESHOLDS_COLUMNS = ("model", "fold", "threshold", "n_inner", "source")
SOURCE = "max Youden on inner OOF of the fold's training patients"


def inner_oof(
    pipeline, baseline, X_train: pd.DataFrame, y_train: np.ndarray, inner_folds: int, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``({model: inner OOF probabilities}, {model: their labels})`` of the training patients."""
    stack = pipeline[-1]
    probabilities = dict(stack.inner_oof_)
    labels = {name: stack.inner_y_ for name in probabilities}
    if baseline is not None:
        front = front_of(baseline)
        inner = X_train if front is None else front.transform(X_train)
        folds = min(inner_folds, int(np.bincount(y_train, minlength=2).min()))
        cv = StratifiedKFold(max(folds, 2), shuffle=True, random_state=seed)
        proba = cross_val_predict(clone(baseline[-1]), inner, y_train, cv=cv,
                                  method="predict_proba")  # fmt: skip
        probabilities["lasso_lr"] = proba[:, 1]
        labels["lasso_lr"] = y_train
    return probabilities, labels


def fold_thresholds(
    probabilities: dict[str, np.ndarray], labels: dict[str, np.ndarray], fold: int
) -> pd.DataFrame:
    """One row per model: its maximum-Youden threshold on the inner OOF probabilities."""
    rows = [
        {"model": model, "fold": fold, "threshold": youden_threshold(labels[model], p),
         "n_inner": len(p), "source": SOURCE}
        for model, p in probabilities.items()
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(FOLD_THRESHOLDS_COLUMNS))


def empty() -> pd.DataFrame:
    """No per-fold thresholds (fixed-split units, the final model)."""
    return pd.DataFrame(columns=list(FOLD_THRESHOLDS_COLUMNS))
