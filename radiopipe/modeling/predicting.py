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
    unseen_site: str | None = None,
) -> pd.DataFrame:
    """Long predictions (every model of the artefact) for the patients of a feature table.

    ``unseen_site`` (estimate, passthrough or error) overrides, for this scoring only, the
    rule the model was trained with for sites it never saw; the policy used is in
    ``predictions.attrs["unseen_site"]`` (see :func:`unseen_site_policy`).
    """
    model = load_model(model_dir)
    card = model.card
    policy = set_unseen_site(model, unseen_site)
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
    policy["new_sites"] = new_sites
    if new_sites:
        log.info("sites not seen in training: %s (unseen-site rule: %s)", new_sites, policy["used"])
    X = data.X[model.features + (meta_columns(data.X) if card["has_sites"] else [])]
    pipeline = _with_fusion(model, fusion, list(X.index))
    probabilities = diagnostics.predict_models(pipeline, model.pipelines.get("lasso_lr"), X)
    probabilities |= clinical_probabilities(model, X, manifest)
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
    out = pd.concat(frames, ignore_index=True)[list(PREDICTION_COLUMNS)]
    out.attrs["unseen_site"] = policy
    return out


def clinical_probabilities(
    model: LoadedModel, X: pd.DataFrame, manifest: str | Path | None
) -> dict[str, np.ndarray]:
    """The clinical, rad-score and combined models' probabilities of the patients of ``X``,
    when the model has them (``clinical_model`` in its card) and the manifest holds the
    covariates; otherwise none, with the reason logged (the radiomics models still score)."""
    from radiopipe.cohort.manifest import read_manifest
    from radiopipe.modeling.combined import score_with_spec
    from radiopipe.modeling.radscore import radscore_values

    spec = model.card.get("clinical_model")
    if not spec:
        return {}
    names = list(spec["covariates"])
    table = read_manifest(manifest).table if manifest is not None else None
    missing = names if table is None else [n for n in names if n not in table.columns]
    if missing:
        log.warning(
            "the clinical, rad-score and combined models need the covariate column(s) %s in "
            "the manifest%s; they are not scored",
            ", ".join(missing), "" if manifest is None else f" ({manifest})",
        )  # fmt: skip
        return {}
    raw = table.set_index("patient_id")[names].replace("", np.nan).loc[list(X.index)]
    radscores = radscore_values(model.pipelines[spec["radscore_pipeline"]], X)
    return score_with_spec(spec, radscores, raw)


UNSEEN_SITE_RULES = ("estimate", "passthrough", "error")


def set_unseen_site(model: LoadedModel, override: str | None) -> dict:
    """Apply an unseen-site rule to every ComBat step of the model; return the policy used.

    ``{"trained": rule at training, "used": rule now, "overridden": bool}``; an override that
    differs from the trained rule is logged as a warning (scores are then not those the
    model was validated with).
    """
    if override is not None and override not in UNSEEN_SITE_RULES:
        raise InputError(f"--unseen-site must be one of {', '.join(UNSEEN_SITE_RULES)}")
    steps = [
        p.named_steps["harmonise"]
        for p in model.pipelines.values()
        if "harmonise" in getattr(p, "named_steps", {})
        and hasattr(p.named_steps["harmonise"], "unseen_site")
    ]
    trained = steps[0].unseen_site if steps else None
    used = trained if override is None or not steps else override
    if steps and override is not None and override != trained:
        log.warning(
            "scoring with unseen_site=%s, overriding the trained rule %s: scores of sites not "
            "seen in training differ from those the model was validated with", override, trained,
        )  # fmt: skip
        for step in steps:
            step.set_params(unseen_site=override)
    return {"trained": trained, "used": used, "overridden": used != trained}


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
