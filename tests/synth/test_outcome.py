"""Outcome model: intercept calibration, class ratio, effect size, patient independence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from radiopipe.synth.outcome import LATENTS, OutcomeModel, correlation_matrix
from radiopipe.synth.patient import Profile, draw_profile
from radiopipe.synth.writer import PatientJob, job_patient


def draw(
    n: int, effect_size: float = 2.5, positive_fraction: float = 0.57, site: str = "A"
) -> list[Profile]:
    """Patient profiles (hidden properties, covariates, labels) without geometry or images."""
    model = OutcomeModel.calibrated(effect_size, positive_fraction)
    return [draw_profile(0, site, i, model) for i in range(1, n + 1)]


@pytest.mark.parametrize(("effect", "fraction"), [(0.0, 0.57), (1.0, 0.3), (2.5, 0.57), (5.0, 0.8)])
def test_intercept_gives_the_expected_positive_fraction(effect: float, fraction: float) -> None:
    model = OutcomeModel.calibrated(effect, fraction)
    rng = np.random.default_rng(1)
    latents = rng.multivariate_normal(np.zeros(len(LATENTS)), correlation_matrix(), 400_000)
    assert model.probability(latents).mean() == pytest.approx(fraction, abs=0.003)


def test_effect_size_is_the_sd_of_the_log_odds() -> None:
    coef = np.asarray(OutcomeModel.calibrated(2.5, 0.57).coefficients)
    assert np.sqrt(coef @ correlation_matrix() @ coef) == pytest.approx(2.5, rel=1e-9)
    directions = dict(zip(LATENTS, np.sign(coef), strict=True))
    # Clinical directions: cellular, vascular, heterogeneous lesions and thick fat respond worse.
    assert directions == {
        "cellularity": -1, "vascularity": -1, "heterogeneity": -1, "degeneration": 1, "fat": -1
    }  # fmt: skip


def test_class_ratio_is_close_to_the_target() -> None:
    labels = np.array([p.label for p in draw(2500)])
    # Binomial SD for n=2500 is 0.01; the calibration targets the population fraction.
    assert labels.mean() == pytest.approx(0.57, abs=0.03)
    other = np.array([p.label for p in draw(2500, positive_fraction=0.3, site="B")])
    assert other.mean() == pytest.approx(0.30, abs=0.03)


def test_label_follows_the_documented_probability() -> None:
    patients = draw(3000)
    model = OutcomeModel.calibrated(2.5, 0.57)
    for p in patients[:20]:
        assert p.probability == pytest.approx(float(expit(model.linear_predictor(p.latents))))
    probs = np.array([p.probability for p in patients])
    labels = np.array([p.label for p in patients])
    for low, high in ((0.0, 0.2), (0.4, 0.6), (0.8, 1.0)):
        inside = (probs >= low) & (probs < high)
        assert labels[inside].mean() == pytest.approx(probs[inside].mean(), abs=0.06)


def test_auc_of_the_true_linear_predictor_grows_with_effect_size() -> None:
    aucs = []
    for effect in (0.0, 1.0, 2.5, 5.0):
        patients = draw(800, effect_size=effect)
        eta = [p.latents @ np.array([-1.0, -1.0, -0.6, 0.5, -0.5]) for p in patients]
        aucs.append(roc_auc_score([p.label for p in patients], eta))
    assert aucs[0] == pytest.approx(0.5, abs=0.06)
    assert aucs == sorted(aucs)
    assert aucs[2] > 0.8


def test_a_patient_does_not_depend_on_the_rest_of_the_cohort() -> None:
    alone = job_patient(PatientJob("/x", 0, "A", 3, 4, "tiny", 2.5, 0.57, False))
    again = job_patient(PatientJob("/y", 0, "A", 3, 4, "default", 2.5, 0.57, False))
    assert alone.truth_row() == again.truth_row()
    other_seed = job_patient(PatientJob("/x", 1, "A", 3, 4, "tiny", 2.5, 0.57, False))
    assert other_seed.latents != alone.latents


def test_covariates_are_plausible() -> None:
    patients = draw(1000)
    ages = np.array([p.age for p in patients])
    fat = np.array([p.fat_mm for p in patients])
    assert ages.min() >= 20 and ages.max() <= 58 and 36 < ages.mean() < 43
    assert fat.min() >= 6 and fat.max() <= 45
    types = {t: sum(p.funaki_type == t for p in patients) for t in (1, 2, 3)}
    assert all(count > 20 for count in types.values()), types
    # Funaki type follows the T2 signal of the solid tissue (type III: the brightest).
    t2 = {t: np.mean([p.tissue.t2_solid for p in patients if p.funaki_type == t]) for t in types}
    assert t2[1] < t2[2] < t2[3]
    diameters = np.array([p.diameter_mm for p in patients])
    assert diameters.min() >= 30 and diameters.max() <= 80
