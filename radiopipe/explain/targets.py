"""What to explain in a fitted pipeline: the final estimator in the selected feature space, and
its base learners.

A radiopipe model is one (imblearn) ``Pipeline``: data-dependent preprocessing and feature
selection, then the final estimator (the stacking ensemble). The explained function is the
final estimator's positive-class probability on the features it receives, i.e. the pipeline
after feature selection; everything before it is applied once to every patient (samplers such
as SMOTE act only in ``fit`` and are skipped by ``transform``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from radiopipe.errors import RadiopipeError
from radiopipe.explain.trees import is_tree_model
from radiopipe.modeling.pipeline_factory import front_of

PERMUTATION, TREE = "permutation", "tree"


@dataclass(frozen=True)
class Target:
    """One model to explain: its name, the fitted estimator, and how it is explained."""

    name: str
    estimator: object
    method: str  # PERMUTATION or TREE


def split_pipeline(pipeline: object) -> tuple[object | None, object]:
    """The steps before the final estimator (samplers left out; None if there are none) and
    the final estimator."""
    steps = getattr(pipeline, "steps", None)
    if not steps:
        return None, pipeline
    return front_of(pipeline), steps[-1][1]


def selected_space(front: object | None, X: pd.DataFrame) -> pd.DataFrame:
    """Patients' features as the final estimator sees them (index kept, named columns)."""
    if front is None:
        return X
    Z = front.transform(X)
    if isinstance(Z, pd.DataFrame):
        Z = Z.copy()
        Z.index = X.index
        Z.columns = [str(c) for c in Z.columns]
        return Z
    names = _names_out(front, np.asarray(Z).shape[1])
    return pd.DataFrame(np.asarray(Z, dtype=np.float64), index=X.index, columns=names)


def _names_out(front: object, n: int) -> list[str]:
    try:
        names = [str(c) for c in front.get_feature_names_out()]  # type: ignore[attr-defined]
    except (AttributeError, ValueError, TypeError):
        names = []
    return names if len(names) == n else [f"x{i}" for i in range(n)]


def base_learners(final: object) -> dict[str, object]:
    """Fitted base learners of a stacking estimator by name (empty for other estimators).

    Reads radiopipe's ``StackingEnsemble.named_learners_`` and scikit-learn's
    ``StackingClassifier.named_estimators_``; wrappers that keep their refitted model in
    ``estimator_`` (a tuned learner) are unwrapped.
    """
    found = getattr(final, "named_learners_", None)
    if found is None:
        found = getattr(final, "named_estimators_", None)
    if found is None:
        return {}
    return {str(name): _unwrap(est) for name, est in dict(found).items() if est != "drop"}


def _unwrap(estimator: object) -> object:
    seen = 0
    while not is_tree_model(estimator) and hasattr(estimator, "estimator_") and seen < 5:
        estimator = estimator.estimator_  # type: ignore[attr-defined]
        seen += 1
    return estimator


def find_targets(
    final: object, wanted: list[str], final_name: str = "stack"
) -> tuple[list[Target], list[str]]:
    """The requested models that exist, and a note for each one that does not."""
    learners = base_learners(final)
    targets, notes = [], []
    for name in wanted:
        if name == final_name:
            estimator = final
        elif name in learners:
            estimator = learners[name]
        else:
            available = [final_name, *learners]
            notes.append(f"model {name!r} is not in this pipeline (available: {available})")
            continue
        if not hasattr(estimator, "predict_proba"):
            raise RadiopipeError(f"model {name!r} has no predict_proba; it cannot be explained")
        method = TREE if is_tree_model(estimator) else PERMUTATION
        targets.append(Target(name, estimator, method))
    return targets, notes
