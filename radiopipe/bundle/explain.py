"""SHAP values of the bundle's reference model for newly scored patients, against the
training background stored in the bundle (same estimator as the explain stage)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from radiopipe.bundle.loader import Bundle

log = logging.getLogger(__name__)

SEED = 0


def explain_patients(bundle: Bundle, X: pd.DataFrame, patients: pd.DataFrame):
    """A :class:`radiopipe.explain.core.ModelExplanation` of the stack for ``X``'s patients.

    ``X``: the model's input (features and meta columns) indexed by patient; ``patients``:
    index patient_id with ``split`` and ``label``. None when the bundle has no background.
    """
    from radiopipe.explain.core import METHOD_TEXT, ModelExplanation
    from radiopipe.explain.permutation import PositiveProbability, permutation_shap
    from radiopipe.explain.targets import PERMUTATION, selected_space, split_pipeline

    background = bundle.background()
    if background is None or X.empty:
        return None
    front, final = split_pipeline(bundle.model.pipelines["stack"])
    Z = selected_space(front, X)
    names = list(background.columns)
    if list(Z.columns) != names:
        log.warning("SHAP background columns differ from the model's selected features; skipped")
        return None
    values = Z.to_numpy(dtype=np.float64)
    estimate = permutation_shap(
        PositiveProbability(final, names), values, background.to_numpy(np.float64), seed=SEED
    )
    frame = patients.loc[Z.index, [c for c in ("split", "label") if c in patients.columns]].copy()
    frame["output"] = estimate.output
    return ModelExplanation(
        model="stack", method=METHOD_TEXT[PERMUTATION], scale=estimate.scale, features=names,
        patients=frame, values=estimate.values, data=values, base_value=estimate.base_value,
    )  # fmt: skip
