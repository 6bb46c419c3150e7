"""``radiopipe predict``: score a new cohort (possibly from a new site) with a saved model."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.errors import InputError
from radiopipe.modeling import diagnostics
from radiopipe.modeling.columns import meta_columns
from radiopipe.modeling.fitting import PREDICTION_COLUMNS
from radiopipe.modeling.persistence import LoadedModel, load_model
from radiopipe.modeling.tables import load_model_data
from radiopipe.modeling.validation import FINAL_FOLD

log = logging.getLogger(__name__)


def predict_cohort(
    model_dir: str | Path,
    features: str | Path,
    manifest: str | Path | None = None,
    fusion: str | Path | None = None,
) -> pd.DataFrame:
    """Long predictions (every model of the artefact) for the patients of a feature table."""
    model = load_model(model_dir)
    card = model.card
    data = load_model_data(
        features,
        manifest,
        card["covariates"],
        require_labels=False,
        batch=card.get("batch", "site"),
    )
    if card["has_sites"] and not data.has_sites:
        raise InputError(
            "this model harmonises features by site (ComBat): pass --manifest with each "
            "patient's site (a site not seen in training is estimated from its own patients)",
            file=features,
        )
    missing = [f for f in model.features if f not in data.X.columns]
    if missing:
        raise InputError(
            f"{len(missing)} feature(s) the model needs are missing, e.g. "
            f"{', '.join(missing[:5])}; extract them with the same settings as the training cohort",
            file=features,
        )
    new_sites = sorted(set(data.sites) - set(card["training_sites"])) if data.has_sites else []
    if new_sites:
        log.info("sites not seen in training: %s (harmonised by the unseen-site rule)", new_sites)
    X = data.X[model.features + (meta_columns(data.X) if card["has_sites"] else [])]
    pipeline = _with_fusion(model, fusion, list(X.index))
    probabilities = diagnostics.predict_models(pipeline, model.pipelines.get("lasso_lr"), X)
    frames = [
        pd.DataFrame(
            {
                "patient_id": list(X.index),
                "split": data.splits.loc[X.index].to_numpy(),
                "fold": FINAL_FOLD,
                "model": name,
                "probability": np.asarray(values, dtype=np.float64),
                "label": pd.array(data.labels.loc[X.index].to_numpy(), dtype="Int64"),
            }
        )
        for name, values in probabilities.items()
    ]
    return pd.concat(frames, ignore_index=True)[list(PREDICTION_COLUMNS)]


def _with_fusion(model: LoadedModel, fusion: str | Path | None, patients: list[str]):
    """The stack pipeline, given the external model's probabilities when it was fused."""
    pipeline = model.pipelines["stack"]
    fusion_model = model.card.get("fusion_model")
    if not fusion_model:
        return pipeline
    if fusion is None:
        raise InputError(
            f"this model fuses {fusion_model!r} probabilities: pass --fusion with that model's "
            "predictions for these patients"
        )
    from radiopipe.modeling.fusion import read_external

    rows = read_external(fusion, fusion_model)
    values = rows.groupby("patient_id")["probability"].mean()
    absent = [p for p in patients if p not in values.index]
    if absent:
        raise InputError(
            f"no {fusion_model!r} probability for patient(s) {', '.join(absent[:10])}", file=fusion
        )
    pipeline.set_params(model__fusion={p: float(values[p]) for p in patients})
    return pipeline
