"""The rad-score: the LASSO linear predictor of a fitted radiomics pipeline, by hand.

For patient i with raw feature values x_ij (the extracted table) at site s::

    h_ij = grand_mean_j + (x_ij - location_sj) / scale_sj     (ComBat; h = x without it)
    radscore_i = sum_terms coefficient_t * (h_it - center_t) / scale_t

where the intercept is a term whose value is 1 (center 0, scale 1). ``location_sj``,
``scale_sj`` and ``grand_mean_j`` are ``train/radscore_harmonisation.csv`` (the training sites'
learned site effects; a site the model never saw gets the values estimated from its own
patients when they were scored, marked in ``source``); ``coefficient``, ``center`` and
``scale`` are ``train/radscore_formula.csv`` (LASSO coefficients, the standardisation of the
harmonised features). Missing raw values are not imputed here (the model fills them with the
training median): :func:`compute_radscore` refuses them by patient and feature.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline

from radiopipe.errors import InputError
from radiopipe.modeling import combat
from radiopipe.modeling.columns import SITE_COLUMN
from radiopipe.modeling.harmonise import ComBatHarmoniser
from radiopipe.modeling.pipeline_factory import PASS

log = logging.getLogger(__name__)

INTERCEPT = "(intercept)"
FORMULA_COLUMNS = ("term", "coefficient", "center", "scale")
HARMONISATION_COLUMNS = ("site", "feature", "location", "scale", "grand_mean", "source")
RADSCORE_COLUMNS = ("patient_id", "split", "fold", "radscore")
TRAINING, ESTIMATED, UNCHANGED = "training", "estimated from the site's patients", "unchanged"


def has_lasso(pipeline: Pipeline) -> bool:
    """True when the pipeline selects by LASSO (so it has a rad-score)."""
    return pipeline.named_steps.get("lasso", PASS) not in (PASS, None)


def steps_before(pipeline: Pipeline, name: str) -> Pipeline | None:
    """The fitted transform steps before ``name`` (samplers and switched-off steps left out)."""
    names = [n for n, _ in pipeline.steps]
    steps = [
        (n, s)
        for n, s in pipeline.steps[: names.index(name)]
        if s not in (PASS, None) and not hasattr(s, "fit_resample")
    ]
    return Pipeline(steps) if steps else None


def lasso_input(pipeline: Pipeline, X: pd.DataFrame) -> np.ndarray:
    """What the LASSO step sees for these patients (harmonised, scaled, filtered)."""
    front = steps_before(pipeline, "lasso")
    values = X if front is None else front.transform(X)
    if isinstance(values, pd.DataFrame):
        values = values[[str(n) for n in pipeline.named_steps["lasso"].feature_names_in_]]
    return np.asarray(values, dtype=np.float64)


def radscore_values(pipeline: Pipeline, X: pd.DataFrame) -> np.ndarray:
    """The rad-score (LASSO linear predictor) of each patient, as the model computes it."""
    lasso = pipeline.named_steps["lasso"]
    intercept = float(np.ravel(lasso.estimator_.intercept_)[0])
    return intercept + lasso_input(pipeline, X) @ np.asarray(lasso.coef_, dtype=np.float64)


def radscore_formula(pipeline: Pipeline) -> pd.DataFrame:
    """``term, coefficient, center, scale``: the intercept, then every non-zero LASSO term."""
    lasso = pipeline.named_steps["lasso"]
    names = [str(n) for n in lasso.feature_names_in_]
    coef = np.asarray(lasso.coef_, dtype=np.float64)
    center, scale = _standardisation(pipeline, names)
    rows = [(INTERCEPT, float(np.ravel(lasso.estimator_.intercept_)[0]), 0.0, 1.0)]
    rows += [
        (name, float(c), center[name], scale[name])
        for name, c in zip(names, coef, strict=True)
        if c != 0
    ]
    return pd.DataFrame(rows, columns=list(FORMULA_COLUMNS))


def _standardisation(pipeline: Pipeline, names: list[str]) -> tuple[dict, dict]:
    """Center and scale of each feature from the scaling step (0 and 1 without one)."""
    scaler = pipeline.named_steps.get("scale", PASS)
    if scaler in (PASS, None):
        return dict.fromkeys(names, 0.0), dict.fromkeys(names, 1.0)
    fitted = [str(n) for n in scaler.feature_names_in_]
    centers = getattr(scaler, "mean_", None)
    if centers is None:
        centers = getattr(scaler, "center_", np.zeros(len(fitted)))
    scales = getattr(scaler, "scale_", None)
    scales = np.ones(len(fitted)) if scales is None else scales
    position = {n: i for i, n in enumerate(fitted)}
    return (
        {n: float(centers[position[n]]) for n in names},
        {n: float(scales[position[n]]) for n in names},
    )


def harmonisation_table(
    pipeline: Pipeline, features: list[str], X: pd.DataFrame
) -> pd.DataFrame | None:
    """Per site and feature of the formula: the ComBat location and scale the model applies.

    Training sites use the learned site effects; sites of ``X`` the model never saw get the
    values it estimated from their patients (``unseen_site: estimate``) or none
    (``passthrough``: unchanged). None when the pipeline has no ComBat step; ComBat with
    covariates adjusts per patient and has no per-site table (a warning says so).
    """
    step = pipeline.named_steps.get("harmonise")
    if not isinstance(step, ComBatHarmoniser):
        return None
    if step.covariates:
        log.warning(
            "rad-score by hand: ComBat with covariates %s adjusts each patient by its "
            "covariates; no per-site harmonisation table is written", list(step.covariates),
        )  # fmt: skip
        return None
    names = [str(n) for n in step.feature_names_in_]
    columns = {n: i for i, n in enumerate(names)}
    kept = np.flatnonzero(step.harmonized_)
    position = {int(i): k for k, i in enumerate(kept)}
    rows = []
    for b, site in enumerate(step.sites_):
        source = UNCHANGED if b == step.reference_index_ else TRAINING
        rows += _site_rows(step, str(site), features, columns, position, b, None, source)
    rows += _unseen_rows(pipeline, step, features, columns, position, X)
    return pd.DataFrame(rows, columns=list(HARMONISATION_COLUMNS))


def _site_rows(step, site, features, columns, position, b, adjust, source) -> list[tuple]:
    """Rows of one site: ``adjust`` = (gamma, delta) of an unseen site, else the learned ones."""
    rows = []
    for name in features:
        k = position.get(columns[name])
        if k is None or source == UNCHANGED:
            rows.append((site, name, 0.0, 1.0, 0.0, UNCHANGED))
            continue
        gamma, delta = (step.gamma_[b], step.delta_[b]) if adjust is None else adjust
        mean, sd = float(step.grand_mean_[k]), float(np.sqrt(step.var_pooled_[k]))
        location = mean + float(gamma[k]) * sd
        rows.append((site, name, location, float(np.sqrt(delta[k])), mean, source))
    return rows


def _unseen_rows(pipeline, step, features, columns, position, X) -> list[tuple]:
    """Rows of the sites of ``X`` that were not in training (as the transform treats them)."""
    sites = X[SITE_COLUMN].astype(str).to_numpy()
    unseen = sorted(set(sites) - {str(s) for s in step.sites_})
    if not unseen or step.unseen_site == "error":
        return []
    front = steps_before(pipeline, "harmonise")
    inputs = X if front is None else front.transform(X)
    data = inputs[[str(n) for n in step.feature_names_in_]].to_numpy(np.float64)
    rows: list[tuple] = []
    for site in unseen:
        if step.unseen_site == "passthrough":
            rows += [(site, n, 0.0, 1.0, 0.0, UNCHANGED) for n in features]
            continue
        block = data[sites == site][:, step.harmonized_]
        design = np.zeros((len(block), 0))
        adjust = combat.estimate_site(block, design, step._estimates(), step._settings())
        rows += _site_rows(step, site, features, columns, position, -1, adjust, ESTIMATED)
    return rows


def compute_radscore(
    features: pd.DataFrame,
    formula: pd.DataFrame,
    harmonisation: pd.DataFrame | None = None,
    sites: pd.Series | None = None,
) -> pd.Series:
    """Rad-scores from a raw feature table (``patient_id`` column or index) and the files.

    ``formula``: ``train/radscore_formula.csv``; ``harmonisation``:
    ``train/radscore_harmonisation.csv`` (with ``sites``: each patient's site, indexed by
    patient) when the model harmonises.
    """
    table = features.set_index("patient_id") if "patient_id" in features.columns else features
    table.index = table.index.astype(str)
    terms = formula[formula["term"] != INTERCEPT]
    missing = [t for t in terms["term"] if t not in table.columns]
    if missing:
        raise InputError(f"the feature table lacks rad-score feature(s) {missing[:5]}")
    values = table[list(terms["term"])].astype(np.float64)
    gaps = values.isna()
    if gaps.to_numpy().any():
        column = gaps.columns[gaps.any()][0]
        raise InputError(
            f"feature {column!r} is missing; the rad-score needs every formula feature",
            patient=str(gaps.index[gaps[column]][0]),
        )
    if harmonisation is not None:
        values = _harmonise(values, harmonisation, sites)
    intercept = formula.loc[formula["term"] == INTERCEPT, "coefficient"]
    z = (values - terms["center"].to_numpy()) / terms["scale"].to_numpy()
    score = z.to_numpy() @ terms["coefficient"].to_numpy(np.float64)
    return pd.Series(float(intercept.sum()) + score, index=values.index, name="radscore")


def _harmonise(values: pd.DataFrame, table: pd.DataFrame, sites: pd.Series | None) -> pd.DataFrame:
    """Apply each patient's site location and scale: grand_mean + (x - location) / scale."""
    if sites is None:
        raise InputError("the model harmonises by site: give each patient's site")
    site = sites.astype(str).reindex(values.index)
    unknown = sorted(set(site.dropna()) - set(table["site"].astype(str)))
    if site.isna().any() or unknown:
        patient = values.index[site.isna() | site.isin(unknown)][0]
        raise InputError(
            f"no harmonisation row for site {site.get(patient)!r}; the harmonisation table "
            f"holds {sorted(set(table['site'].astype(str)))}",
            patient=str(patient),
        )
    lookup = table.assign(site=table["site"].astype(str)).set_index(["site", "feature"])
    out = values.copy()
    for name in values.columns:
        keys = list(zip(site, [name] * len(site), strict=True))
        rows = lookup.loc[keys]
        out[name] = (
            rows["grand_mean"].to_numpy()
            + (values[name].to_numpy() - rows["location"].to_numpy()) / rows["scale"].to_numpy()
        )
    return out
