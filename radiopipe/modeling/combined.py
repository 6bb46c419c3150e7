"""Per unit (outer fold or final model): the rad-scores and, when ``clinical.covariates`` are
set, the ``clinical``, ``radscore`` and ``combined`` models.

Within a unit everything is fitted on the unit's training patients only: the clinical model
selects and fits its covariates there; the combined model is a logistic regression on the
rad-score plus the selected covariates, fitted on the training patients' *inner out-of-fold*
rad-scores (the LASSO part of the pipeline refitted in ``cv.inner_folds`` folds of the unit's
training patients), so its rad-score weight is not inflated by in-sample scores. The held-out
patients are scored with the unit's own pipeline rad-score. The ``radscore`` model is the
LASSO logistic model itself: P = 1 / (1 + exp(-radscore)).

A model whose pipeline has no LASSO step (``configs/model/auto.yaml``: each learner tunes its
own selection depth) gets the rad-score from a pipeline of its own when clinical covariates
are set: the same front steps (imputation, filters, ComBat, scaling, correlation filter)
followed by the LASSO step, fitted on the unit's training patients (:func:`lasso_part`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline
from scipy.special import expit
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from radiopipe.config.model import ModelConfig
from radiopipe.modeling import nomogram
from radiopipe.modeling.clinical import (
    INTERCEPT,
    ClinicalModel,
    CovariateCoder,
    LogitFit,
    fit_clinical,
    fit_logit,
)
from radiopipe.modeling.radscore import (
    RADSCORE_COLUMNS,
    harmonisation_table,
    has_lasso,
    radscore_formula,
    radscore_values,
)
from radiopipe.modeling.tables import ModelData
from radiopipe.modeling.validation import Unit

CLINICAL, RADSCORE, COMBINED = "clinical", "radscore", "combined"
COEFFICIENT_COLUMNS = ("term", "coefficient", "odds_ratio", "ci_low", "ci_high", "p_value")


@dataclass
class UnitModels:
    """What one unit adds: probabilities of the extra models, rad-scores, final tables."""

    probabilities: dict[str, np.ndarray] = field(default_factory=dict)
    radscores: np.ndarray | None = None  # of unit.test, in its order
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # final unit only
    # final unit only: the rad-score's own pipeline (a model without a LASSO step) and the
    # JSON scoring spec of the clinical and combined models (:func:`score_with_spec`)
    radscore_pipeline: Pipeline | None = None
    spec: dict = field(default_factory=dict)


def unit_models(
    unit: Unit, data: ModelData, config: ModelConfig, pipeline: Pipeline, seed: int
) -> UnitModels:
    """Rad-scores of the unit's scored patients and the clinical/combined models' output."""
    result = UnitModels()
    train, test = list(unit.train), list(unit.test)
    X_test = data.X.loc[test]
    y_train = data.labels.loc[train].to_numpy(dtype=int)
    scorer = pipeline if has_lasso(pipeline) else None
    if scorer is None and config.clinical.enabled:
        scorer = clone(lasso_part(config, seed, data.has_sites)).fit(data.X.loc[train], y_train)
    if scorer is not None:
        result.radscores = radscore_values(scorer, X_test)
        if unit.is_final and scorer is not pipeline:
            result.radscore_pipeline = scorer
        if unit.is_final:
            formula = radscore_formula(scorer)
            result.tables["radscore_formula"] = formula
            terms = [t for t in formula["term"] if t != INTERCEPT]
            harmonisation = harmonisation_table(scorer, terms, X_test)
            if harmonisation is not None:
                result.tables["radscore_harmonisation"] = harmonisation
    if not config.clinical.enabled:
        return result
    if data.clinical is None:
        raise ValueError("clinical.covariates are set but the model data hold no covariates")
    covariates = data.clinical
    clinical = fit_clinical(covariates.loc[train], y_train, config.clinical, seed)
    result.probabilities[CLINICAL] = clinical.probability(covariates.loc[test])
    if unit.is_final:
        result.tables["clinical_univariable"] = clinical.univariable
        result.tables["clinical_multivariable"] = clinical.multivariable()
    result.probabilities[RADSCORE] = expit(result.radscores)
    inner = inner_oof_radscores(config, seed, data, train, y_train)
    fit = fit_logit(combined_design(inner, clinical, covariates.loc[train]), y_train)
    design = combined_design(result.radscores, clinical, covariates.loc[test])
    result.probabilities[COMBINED] = fit.probability(design)
    if unit.is_final:
        result.spec = scoring_spec(clinical, fit, RADSCORE if scorer is not pipeline else "stack")
        result.tables["combined_coefficients"] = coefficient_table(fit)
        points, totals = nomogram.nomogram_tables(
            fit,
            clinical.coder,
            clinical.selected,
            np.concatenate([inner, result.radscores]),
            covariates.loc[test],
        )
        result.tables["nomogram_points"] = points
        result.tables["nomogram_total"] = totals
    return result


def scoring_spec(clinical: ClinicalModel, combined: LogitFit, radscore_from: str) -> dict:
    """What scoring new patients needs, as JSON: the selected covariates' coding (levels with
    the reference first, training fill values), both models' coefficients, and which saved
    pipeline (``stack`` or ``radscore``) computes the rad-score."""
    coder = clinical.coder
    return {
        "radscore_pipeline": radscore_from,
        "covariates": list(clinical.selected),
        "levels": {n: list(coder.levels_[n]) for n in clinical.selected if n in coder.levels_},
        "fill": {n: coder.fill_[n] for n in clinical.selected},
        "clinical": {t: float(v) for t, v in clinical.fit.params.items()},
        "combined": {t: float(v) for t, v in combined.params.items()},
    }


def score_with_spec(
    spec: dict, radscores: np.ndarray, covariates: pd.DataFrame
) -> dict[str, np.ndarray]:
    """``clinical``, ``radscore`` and ``combined`` probabilities of new patients from a
    :func:`scoring_spec`, their rad-scores and raw covariates (the training coding: unseen
    levels count as the reference level, missing values get the training fill value)."""
    names = list(spec["covariates"])
    coder = CovariateCoder(
        covariates=names, categorical=list(spec["levels"]),
        levels_={n: list(v) for n, v in spec["levels"].items()}, fill_=dict(spec["fill"]),
    )  # fmt: skip
    design = coder.transform(covariates, names)
    design.insert(0, RADSCORE, np.asarray(radscores, dtype=np.float64))

    def probability(coefficients: dict[str, float]) -> np.ndarray:
        terms = [t for t in coefficients if t != INTERCEPT]
        weights = np.array([coefficients[t] for t in terms], dtype=np.float64)
        return expit(coefficients[INTERCEPT] + design[terms].to_numpy(np.float64) @ weights)

    return {
        CLINICAL: probability(spec["clinical"]),
        RADSCORE: expit(np.asarray(radscores, dtype=np.float64)),
        COMBINED: probability(spec["combined"]),
    }


def combined_design(
    radscores: np.ndarray, clinical: ClinicalModel, covariates: pd.DataFrame
) -> pd.DataFrame:
    """The combined model's columns: ``radscore`` then the selected covariates' columns."""
    design = clinical.design(covariates)
    design.insert(0, RADSCORE, np.asarray(radscores, dtype=np.float64))
    return design


def lasso_part(config: ModelConfig, seed: int, has_sites: bool) -> Pipeline:
    """The model pipeline's steps up to its LASSO step, unfitted; with ``lasso.enabled``
    false (auto) the LASSO step is switched on, the other steps unchanged."""
    from radiopipe.modeling.pipeline_factory import build_pipeline

    if not config.lasso.enabled:
        lasso = config.lasso.model_copy(update={"enabled": True})
        config = config.model_copy(update={"lasso": lasso})
    full = build_pipeline(config, seed, has_sites)
    names = [n for n, _ in full.steps]
    return Pipeline(full.steps[: names.index("lasso") + 1])


def inner_oof_radscores(
    config: ModelConfig, seed: int, data: ModelData, train: list[str], y: np.ndarray
) -> np.ndarray:
    """Out-of-fold rad-scores of the unit's training patients (inner CV of the LASSO part)."""
    partial = lasso_part(config, seed, data.has_sites)
    X = data.X.loc[train]
    folds = StratifiedKFold(config.cv.inner_folds, shuffle=True, random_state=seed)
    out = np.full(len(train), np.nan)
    for fit_rows, score_rows in folds.split(np.zeros(len(y)), y):
        fitted = clone(partial).fit(X.iloc[fit_rows], y[fit_rows])
        out[score_rows] = radscore_values(fitted, X.iloc[score_rows])
    return out


def coefficient_table(fit: LogitFit) -> pd.DataFrame:
    """``term, coefficient, odds_ratio, ci_low, ci_high, p_value`` (Wald 95% CIs)."""
    beta, se = fit.params, fit.bse
    table = pd.DataFrame(
        {
            "term": list(beta.index),
            "coefficient": beta.to_numpy(),
            "odds_ratio": np.exp(beta.to_numpy()),
            "ci_low": np.exp((beta - 1.959964 * se).to_numpy()),
            "ci_high": np.exp((beta + 1.959964 * se).to_numpy()),
            "p_value": fit.pvalues.to_numpy(),
        }
    )
    return table[list(COEFFICIENT_COLUMNS)]


def radscore_rows(unit: Unit, data: ModelData, values: np.ndarray) -> pd.DataFrame:
    """``patient_id, split, fold, radscore`` rows of the unit's scored patients."""
    from radiopipe.modeling.fitting import prediction_rows

    rows = prediction_rows(unit, data, {RADSCORE: values})
    return rows.rename(columns={"probability": "radscore"})[list(RADSCORE_COLUMNS)]
