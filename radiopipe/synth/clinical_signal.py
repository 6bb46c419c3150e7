"""The known share of the outcome signal that the synthetic cohort's covariates carry.

The recorded covariates are noisy readings of hidden properties: the Funaki type reads the
solid tissue's T2 signal (cellularity), the enhancement grade its CE-T1 signal (vascularity),
the fat thickness the fat latent; age and lesion diameter carry no outcome signal. The
imaging alone sees heterogeneity and degeneration, so a combined model can add to a
clinical one.

The share is a property of the generator, not of a cohort: the outcome's unit signal
``s = w . g`` is regressed by least squares on the covariates' design (Funaki type and
enhancement grade one-hot, fat thickness numeric) over a fixed reference population
(``POPULATION`` profiles, seed ``SEED``). ``share`` is that regression's R^2 (the fraction of
the log-odds variance the covariates explain; it does not depend on the effect size), and a
patient's ``clinical_linear_predictor`` is ``intercept + site shift + effect_size * (a + x.b)``:
the part of its log-odds a perfect clinical model could know. truth.csv holds both.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from radiopipe.synth.outcome import OutcomeModel

COVARIATES = ("funaki_type", "enhancement_grade", "fat_thickness_mm")
CATEGORICAL = {"funaki_type": (1, 2, 3), "enhancement_grade": (1, 2, 3)}
POPULATION, SEED, SITE = 4000, 20261204, "reference-population"


def design(covariates: pd.DataFrame) -> np.ndarray:
    """Intercept, one-hot Funaki type and enhancement grade (level 1 reference), fat mm."""
    columns = [np.ones(len(covariates))]
    for name, levels in CATEGORICAL.items():
        values = covariates[name].to_numpy()
        columns += [(values == level).astype(float) for level in levels[1:]]
    columns.append(covariates["fat_thickness_mm"].to_numpy(float))
    return np.column_stack(columns)


@functools.lru_cache(maxsize=1)
def signal_model() -> tuple[np.ndarray, float]:
    """(coefficients of the unit signal on the design, R^2) over the reference population."""
    from radiopipe.synth.patient import draw_profile

    unit = OutcomeModel.calibrated(1.0, 0.5)
    profiles = [draw_profile(SEED, SITE, i, unit) for i in range(POPULATION)]
    signal = np.asarray([p.linear_predictor - unit.intercept for p in profiles])
    table = pd.DataFrame([p.covariates() for p in profiles])
    X = design(table)
    coef, *_ = np.linalg.lstsq(X, signal, rcond=None)
    share = 1.0 - np.var(signal - X @ coef) / np.var(signal)
    return coef, float(share)


def clinical_columns(
    covariates: pd.DataFrame, outcome: OutcomeModel, shifts: np.ndarray | None = None
) -> pd.DataFrame:
    """``clinical_linear_predictor`` and ``clinical_share`` per patient (truth.csv columns)."""
    coef, share = signal_model()
    shift = np.zeros(len(covariates)) if shifts is None else np.asarray(shifts, float)
    linear = outcome.intercept + shift + outcome.effect_size * (design(covariates) @ coef)
    return pd.DataFrame(
        {"clinical_linear_predictor": np.round(linear, 6), "clinical_share": round(share, 6)},
        index=covariates.index,
    )


def record() -> dict:
    """The synth.json entry describing the share."""
    coef, share = signal_model()
    return {
        "covariates": list(COVARIATES),
        "share": share,
        "rule": "R^2 of the outcome's log-odds signal regressed on the covariates (Funaki type "
        "and enhancement grade one-hot, fat thickness numeric) over a fixed reference "
        f"population of {POPULATION} profiles; age and lesion diameter carry no signal",
        "coefficients_unit_signal": [float(c) for c in coef],
        "truth_columns": ["clinical_linear_predictor", "clinical_share"],
    }
