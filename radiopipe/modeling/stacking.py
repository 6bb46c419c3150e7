"""Stacking: a meta-learner on out-of-fold base-learner probabilities.

The meta-learner is a logistic regression (``method="logistic"``, the published recipe) or a
convex combination (``"mean"``, ``"nonnegative"``, ``"select"``: see
:mod:`radiopipe.modeling.combiners`).

Each base learner is tuned on inner CV of the training data it is given; its ``oof_proba_``
on the real (non-synthetic) patients are the meta-features (the chosen trials' out-of-fold
probabilities on the tuning folds, or with ``oof_split="fresh"`` on a second inner split: see
:class:`~radiopipe.modeling.tuning.TunedClassifier`), and the base learners are then refitted
on all training rows for prediction.

Late-fusion hook (``fusion``): a mapping ``patient_id -> probability`` from an external model
(a CNN, say). When given, a second meta-learner (``stack_fusion``) is fitted on the base-learner
probabilities plus that column. The training patients' values must be the external model's
out-of-fold probabilities and the test patients' values its predictions from a model that did
not see them (see :mod:`radiopipe.modeling.fusion`). Rows are matched by the patient index of
``X``, so the external probabilities never pass through the feature steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from radiopipe.errors import InputError
from radiopipe.modeling.base import BinaryClassifierMixin, as_binary_target
from radiopipe.modeling.columns import n_rows, real_rows
from radiopipe.modeling.combiners import meta_learner

STACK, FUSION = "stack", "stack_fusion"


class StackingEnsemble(BinaryClassifierMixin, ClassifierMixin, BaseEstimator):
    """Tuned base learners (with ``oof_proba_``) combined by a logistic regression."""

    def __init__(
        self,
        learners: list[tuple[str, object]] | None = None,
        meta_C: float = 1.0,
        fusion: dict[str, float] | None = None,
        method: str = "logistic",
    ) -> None:
        self.learners = learners
        self.meta_C = meta_C
        self.fusion = fusion
        self.method = method

    def fit(self, X: object, y: object) -> StackingEnsemble:
        """Fit every base learner, then the meta-learner(s) on their out-of-fold probabilities."""
        if not self.learners:
            raise ValueError("the stack needs at least one base learner")
        real = real_rows(X)
        patients = _patients(X)
        _, y_raw = validate_data(self, X, y, dtype=np.float64)
        y = as_binary_target(y_raw)
        self.classes_ = np.unique(y_raw)
        self.named_learners_ = {name: clone(est).fit(X, y) for name, est in self.learners}
        meta = np.column_stack([est.oof_proba_[real] for est in self.named_learners_.values()])
        self.meta_learner_ = meta_learner(self.method, self.meta_C).fit(meta, y[real])
        # Inner out-of-fold probabilities of the real training patients (for thresholds chosen
        # without the rows they are applied to): each base learner's oof_proba_, and the stack
        # on those out-of-fold inputs (its meta-learner, two or a few coefficients, in-sample).
        self.inner_y_ = y[real]
        self.inner_oof_ = {name: est.oof_proba_[real] for name, est in self.named_learners_.items()}
        self.inner_oof_[STACK] = self.meta_learner_.predict_proba(meta)[:, 1]
        if self.fusion is not None:
            external = self._external(patients[real])
            both = np.column_stack([meta, external])
            self.fusion_meta_learner_ = meta_learner(self.method, self.meta_C).fit(both, y[real])
            self.inner_oof_[FUSION] = self.fusion_meta_learner_.predict_proba(both)[:, 1]
        return self

    def base_proba(self, X: object) -> dict[str, np.ndarray]:
        """Positive-class probability of each base learner."""
        check_is_fitted(self, "meta_learner_")
        return {name: est.predict_proba(X)[:, 1] for name, est in self.named_learners_.items()}

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities of the stack (without fusion)."""
        base = np.column_stack(list(self.base_proba(X).values()))
        return self.meta_learner_.predict_proba(base)

    def predict(self, X: object) -> np.ndarray:
        """Predicted class (probability >= 0.5)."""
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]

    def predict_all(self, X: object) -> dict[str, np.ndarray]:
        """Positive-class probability of every model: base learners, stack, stack_fusion."""
        out = self.base_proba(X)
        base = np.column_stack(list(out.values()))
        out[STACK] = self.meta_learner_.predict_proba(base)[:, 1]
        if hasattr(self, "fusion_meta_learner_"):
            external = self._external(_patients(X))
            out[FUSION] = self.fusion_meta_learner_.predict_proba(
                np.column_stack([base, external])
            )[:, 1]
        return out

    def _external(self, patients: np.ndarray) -> np.ndarray:
        """The external model's probability of each patient (all must be present)."""
        if self.fusion is None:
            raise InputError("this stack was fitted with late fusion: external predictions needed")
        lookup = pd.Series(self.fusion, dtype=np.float64)
        missing = [p for p in patients if p not in lookup.index]
        if missing:
            raise InputError(
                "late fusion: no external-model probability for patient(s) "
                + ", ".join(missing[:10])
            )
        return lookup.loc[list(patients)].to_numpy()


def _patients(X: object) -> np.ndarray:
    """Patient IDs of the rows (the DataFrame index), as text."""
    if isinstance(X, pd.DataFrame):
        return np.asarray(X.index.astype(str))
    return np.asarray([str(i) for i in range(n_rows(X))])
