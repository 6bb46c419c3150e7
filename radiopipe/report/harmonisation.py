"""Harmonisation diagnostics: how well the site can be predicted from the features (before and
after ComBat), and principal components coloured by site.

Site separability is the cross-validated AUC of a classifier that predicts the site from the
features (median imputation, standardisation, PCA to at most 10 components and a logistic
regression, all fitted inside each fold). 0.5 means the sites are indistinguishable; with more
than two sites the macro one-vs-rest AUC is given. The harmonised features are those the
trained model's own preprocessing produces (its fitted imputation, filters and ComBat step),
so the diagnostic shows exactly what the learners saw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.errors import RadiopipeError
from radiopipe.report.contents import RunContents
from radiopipe.report.methods import get

log = logging.getLogger(__name__)

MAX_COMPONENTS = 10
HARMONISE_STEPS = ("harmonise", "harmonize")  # the model step; earlier models: harmonize


@dataclass(frozen=True)
class Separability:
    """Cross-validated AUC of predicting the site from the features."""

    auc: float
    n_patients: int
    n_features: int
    n_sites: int


def _numeric(features: pd.DataFrame) -> pd.DataFrame:
    frame = features.apply(pd.to_numeric, errors="coerce").astype(float)
    frame = frame.loc[:, frame.notna().any() & (frame.nunique(dropna=True) > 1)]
    if frame.shape[1] == 0:
        raise RadiopipeError("harmonisation diagnostics: no varying numeric feature")
    return frame


def site_separability(
    features: pd.DataFrame, sites: pd.Series, seed: int = 0, folds: int = 5
) -> Separability:
    """Cross-validated AUC of predicting ``sites`` from ``features`` (same index)."""
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = _numeric(features)
    y = sites.loc[X.index].astype(str).to_numpy()
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2:
        raise RadiopipeError("harmonisation diagnostics need patients of at least two sites")
    k = int(min(folds, counts.min()))
    if k < 2:
        raise RadiopipeError(
            f"a site has a single patient ({dict(zip(labels, counts, strict=True))})"
        )
    components = int(min(MAX_COMPONENTS, X.shape[1], len(X) - len(X) // k - 1))
    model = make_pipeline(
        SimpleImputer(strategy="median"),
        StandardScaler(),
        PCA(components, random_state=seed),
        LogisticRegression(max_iter=1000),
    )
    cv = StratifiedKFold(k, shuffle=True, random_state=seed)
    proba = cross_val_predict(model, X.to_numpy(), y, cv=cv, method="predict_proba")
    if len(labels) == 2:
        auc = roc_auc_score(y == labels[1], proba[:, 1])
    else:
        auc = roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels)
    return Separability(float(auc), len(X), X.shape[1], len(labels))


def pca_coordinates(features: pd.DataFrame, sites: pd.Series, seed: int = 0) -> pd.DataFrame:
    """The first two principal components of the standardised features, with the site."""
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    X = _numeric(features)
    data = StandardScaler().fit_transform(SimpleImputer(strategy="median").fit_transform(X))
    pca = PCA(2, random_state=seed).fit(data)
    coords = pca.transform(data)
    out = pd.DataFrame({"pc1": coords[:, 0], "pc2": coords[:, 1]}, index=X.index)
    out["site"] = sites.loc[X.index].astype(str).to_numpy()
    ratio = pca.explained_variance_ratio_
    out.attrs["pc1_label"] = f"PC1 ({ratio[0]:.0%} of variance)"
    out.attrs["pc2_label"] = f"PC2 ({ratio[1]:.0%} of variance)"
    return out


@dataclass
class Diagnostics:
    """Site separability and PCA coordinates before and (when available) after ComBat."""

    before: Separability
    pca_before: pd.DataFrame
    after: Separability | None
    pca_after: pd.DataFrame | None
    status: str  # where the harmonised features came from, or why there are none


def diagnostics(run: RunContents, seed: int = 0) -> Diagnostics:
    """Harmonisation diagnostics of a study run (features, manifest and trained model)."""
    if run.features_path is None or run.manifest is None:
        raise RadiopipeError(
            "harmonisation diagnostics need extract/features.parquet and the cohort manifest"
        )
    sites = run.manifest.set_index("patient_id")["site"].astype(str)
    if sites.nunique() < 2:
        raise RadiopipeError("a single site: nothing to harmonise")
    raw = pd.read_parquet(run.features_path).set_index("patient_id")
    raw.index = raw.index.astype(str)
    raw = raw.loc[raw.index.intersection(sites.index)]
    after, status = _after(run)
    if after is not None:
        after = after.loc[after.index.intersection(raw.index)]
        shared = [c for c in after.columns if c in raw.columns]
        raw = raw.loc[:, shared] if shared else raw
    before = site_separability(raw, sites, seed)
    return Diagnostics(
        before,
        pca_coordinates(raw, sites, seed),
        site_separability(after, sites, seed) if after is not None else None,
        pca_coordinates(after, sites, seed) if after is not None else None,
        status,
    )


def _after(run: RunContents) -> tuple[pd.DataFrame | None, str]:
    """The harmonised features from the trained model, and a sentence on where they come from."""
    if get(run.configs.get("train"), "harmonise.method") == "none":
        return None, "ComBat harmonisation was switched off in the modelling settings."
    model = run.path("train", "model")
    if not (model / "model.json").is_file():
        return None, "The harmonised features need the trained model (train/model/), absent here."
    try:
        after = harmonised_features(model, run.features_path, run.path("cohort", "manifest.csv"))
    except ImportError:
        return None, "The modelling stage (radiopipe.modeling) is not installed."
    except RadiopipeError as err:  # a model folder this radiopipe cannot load
        log.warning("harmonised features unavailable: %s", err)
        return None, f"The trained model could not be loaded ({err})."
    if after is None:
        return None, "The trained model has no ComBat step."
    return after, (
        "After: features transformed by the trained model's own imputation, filters "
        "and ComBat step (fitted on training patients only)."
    )


def harmonised_features(model_folder: Path, features: Path, manifest: Path) -> pd.DataFrame | None:
    """Features after the trained model's own steps up to ComBat, for every patient.

    None when the model has no ComBat step. Loads the artefact through the modelling stage's
    safe (skops) loader.
    """
    from radiopipe.modeling.persistence import load_model
    from radiopipe.modeling.tables import load_model_data

    model = load_model(model_folder)
    pipeline = model.pipelines.get("stack")
    names = [name for name, _ in getattr(pipeline, "steps", [])]
    step_name = next((name for name in HARMONISE_STEPS if name in names), None)
    if step_name is None:
        return None
    step = pipeline.named_steps[step_name]
    if type(step).__name__ != "ComBatHarmoniser":
        return None
    data = load_model_data(
        features,
        manifest,
        model.card.get("covariates", []),
        require_labels=False,
        batch=model.card.get("batch", "site"),
    )
    front = pipeline[: names.index(step_name) + 1]
    out = front.transform(data.X)
    return out if isinstance(out, pd.DataFrame) else pd.DataFrame(out, index=data.X.index)
