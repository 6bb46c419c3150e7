"""Harmonisation diagnostics, written by the train stage: how well the site can be predicted
from the features before and after the trained model's ComBat step, and principal components
coloured by site.

Site separability is the cross-validated AUC of a classifier that predicts the site from the
features (median imputation, standardisation, PCA to at most 10 components and a logistic
regression, all fitted inside each fold). 0.5 means the sites are indistinguishable; with more
than two sites the macro one-vs-rest AUC is given. The harmonised features are those the final
model's own preprocessing produces (its fitted imputation, filters and ComBat step), so the
diagnostic shows exactly what the learners saw.

Files (``TrainLayout``): ``harmonisation.csv`` (``features`` = before/after, ``auc``,
``n_patients``, ``n_features``, ``n_sites``, ``status``; a single ``features = none`` row with
the reason when no diagnostic can be computed) and ``harmonisation_pca.csv`` (``features,
patient_id, site, pc1, pc2, pc1_variance, pc2_variance``). The report only renders them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.atomic import write_csv
from radiopipe.contracts import TrainLayout
from radiopipe.errors import RadiopipeError

log = logging.getLogger(__name__)

MAX_COMPONENTS = 10
HARMONISE_STEPS = ("harmonise", "harmonize")  # the model step; models before the rename: harmonize
BEFORE, AFTER, NONE = "before", "after", "none"
SEPARABILITY_COLUMNS = ("features", "auc", "n_patients", "n_features", "n_sites", "status")
PCA_COLUMNS = ("features", "patient_id", "site", "pc1", "pc2", "pc1_variance", "pc2_variance")


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
    out["pc1_variance"], out["pc2_variance"] = float(ratio[0]), float(ratio[1])
    return out


def harmonised_features(pipeline: object, X: pd.DataFrame) -> pd.DataFrame | None:
    """``X`` after the fitted pipeline's own steps up to ComBat; None without a ComBat step."""
    names = [name for name, _ in getattr(pipeline, "steps", [])]
    step = next((name for name in HARMONISE_STEPS if name in names), None)
    if step is None:
        return None
    if type(pipeline.named_steps[step]).__name__ not in ("ComBatHarmoniser", "ComBatHarmonizer"):
        return None
    out = pipeline[: names.index(step) + 1].transform(X)
    return out if isinstance(out, pd.DataFrame) else pd.DataFrame(out, index=X.index)


def diagnostics_tables(
    raw: pd.DataFrame,
    sites: pd.Series,
    after: pd.DataFrame | None,
    status: str,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(separability, PCA coordinates) before and, when given, after harmonisation."""
    if sites.nunique() < 2:
        raise RadiopipeError("a single site: nothing to harmonise")
    raw = raw.loc[raw.index.intersection(sites.index)]
    if after is not None:
        after = after.loc[after.index.intersection(raw.index)]
        shared = [c for c in after.columns if c in raw.columns]
        raw = raw.loc[:, shared] if shared else raw
    rows, coords = [], []
    for name, frame in ((BEFORE, raw), (AFTER, after)):
        if frame is None:
            continue
        found = site_separability(frame, sites, seed)
        rows.append(
            {"features": name, "auc": found.auc, "n_patients": found.n_patients,
             "n_features": found.n_features, "n_sites": found.n_sites, "status": status}
        )  # fmt: skip
        pca = pca_coordinates(frame, sites, seed)
        pca.insert(0, "features", name)
        coords.append(pca.rename_axis("patient_id").reset_index())
    pca_table = pd.concat(coords, ignore_index=True)
    pca_table["patient_id"] = pca_table["patient_id"].astype(str)
    return pd.DataFrame(rows, columns=list(SEPARABILITY_COLUMNS)), pca_table[list(PCA_COLUMNS)]


def write_harmonisation(
    out: str | Path,
    features: Path,
    sites: pd.Series | None,
    method: str,
    pipeline: object | None,
    X: pd.DataFrame,
    seed: int,
) -> dict[str, Path]:
    """Write ``harmonisation.csv`` and ``harmonisation_pca.csv`` into the train folder ``out``.

    ``features``: the extracted feature table (the "before" features); ``sites``: site per
    patient (None without a manifest); ``method``: the modelling settings' harmonisation
    method; ``pipeline``/``X``: the final fitted pipeline and its input table.
    """
    layout = TrainLayout(out)
    try:
        separability, pca = _compute(features, sites, method, pipeline, X, seed)
    except RadiopipeError as err:
        log.info("harmonisation diagnostics not computed: %s", err)
        separability = pd.DataFrame([{"features": NONE, "status": str(err)}])
        separability = separability.reindex(columns=list(SEPARABILITY_COLUMNS))
        pca = pd.DataFrame(columns=list(PCA_COLUMNS))
    return {
        "harmonisation": write_csv(layout.harmonisation, separability),
        "harmonisation_pca": write_csv(layout.harmonisation_pca, pca),
    }


def _compute(
    features: Path,
    sites: pd.Series | None,
    method: str,
    pipeline: object | None,
    X: pd.DataFrame,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if sites is None or features.suffix != ".parquet":
        raise RadiopipeError(
            "harmonisation diagnostics need a features Parquet table and a manifest with sites"
        )
    sites = sites.astype(str)
    sites.index = sites.index.astype(str)
    raw = pd.read_parquet(features).set_index("patient_id")
    raw.index = raw.index.astype(str)
    if method == "none":
        after, status = None, "ComBat harmonisation was switched off in the modelling settings."
    else:
        after = harmonised_features(pipeline, X) if pipeline is not None else None
        status = (
            "The trained model has no ComBat step."
            if after is None
            else "After: features transformed by the trained model's own imputation, filters "
            "and ComBat step (fitted on training patients only)."
        )
    if after is not None:
        after.index = after.index.astype(str)
    return diagnostics_tables(raw, sites, after, status, seed)
