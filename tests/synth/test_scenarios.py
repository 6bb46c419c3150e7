"""Scenarios of the synthetic cohort: --scanner-effect extremes and --confound."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from radiopipe.config.synth import SynthConfig
from radiopipe.modeling.columns import SITE_COLUMN
from radiopipe.modeling.harmonise import ComBatHarmoniser
from radiopipe.synth import generate_cohort
from radiopipe.synth.patient import draw_patient
from radiopipe.synth.render import render_patient
from radiopipe.synth.scanner import PRESETS, SIZES, scanner_with_effect
from radiopipe.synth.writer import outcome_model, site_scanner

OUTCOME = outcome_model(2.5, 0.57)


def lesion_stats(site: str, index: int, scanner_site: str, effect: float) -> np.ndarray:
    """First-order lesion statistics of one patient scanned with a site's scanner."""
    scanner = site_scanner(scanner_site, 0, effect)
    patient = draw_patient(0, site, index, scanner, OUTCOME)
    rendered = render_patient(patient, scanner, SIZES["tiny"])
    values = []
    for seq in ("t2w", "cet1w"):
        voxels = rendered[seq].image[rendered[seq].mask > 0].astype(float)
        values += [voxels.mean(), *np.percentile(voxels, [10, 50, 90]), voxels.std()]
    return np.array(values)


def site_gap(effect: float, patients: int = 4) -> float:
    """Mean |log ratio| of lesion medians when the same patients are scanned at B vs at A."""
    gaps = [
        abs(np.log(lesion_stats("A", i, "B", effect)[2] / lesion_stats("A", i, "A", effect)[2]))
        for i in range(1, patients + 1)
    ]
    return float(np.mean(gaps))


def test_scanner_effect_extremes_on_the_same_tissue():
    gap0, gap1, gap2 = site_gap(0.0), site_gap(1.0), site_gap(2.0)
    assert gap0 < 0.02  # identical scanners: the same lesion looks the same at both sites
    assert gap1 > 0.3  # today's presets: 1.5 T site B is much darker in scanner units
    assert gap2 > gap1 + 0.2  # strong: further apart still


def test_scanner_effect_one_is_the_preset_and_zero_the_reference():
    assert site_scanner("B", 0, 1.0) is PRESETS["B"]
    flat = scanner_with_effect(PRESETS["B"], PRESETS["A"], 0.0)
    assert flat.t2w == PRESETS["A"].t2w and flat.cet1w == PRESETS["A"].cet1w
    strong = scanner_with_effect(PRESETS["B"], PRESETS["A"], 2.0)
    assert strong.t2w.scale == pytest.approx(2400 * (900 / 2400) ** 2)  # multiplicative
    assert strong.t2w.gamma == pytest.approx(0.6)  # additive: 1 + 2 * (0.8 - 1)
    huge = scanner_with_effect(PRESETS["B"], PRESETS["A"], 5.0)
    assert huge.t2w.gamma >= 0.3 and huge.t2w.bias_sd >= 0.0  # clamped


def separability(features: np.ndarray, sites: np.ndarray) -> float:
    """Mean |standardised difference| of the two sites' feature means (Cohen's d)."""
    a, b = features[sites == "A"], features[sites == "B"]
    pooled = np.sqrt((a.var(axis=0, ddof=1) + b.var(axis=0, ddof=1)) / 2)
    return float(np.mean(np.abs(a.mean(axis=0) - b.mean(axis=0)) / pooled))


def test_combat_removes_the_strong_scanner_effect():
    n = 12
    rows = [lesion_stats(s, i, s, 2.0) for s in ("A", "B") for i in range(1, n + 1)]
    sites = np.array(["A"] * n + ["B"] * n)
    features = pd.DataFrame(rows, columns=[f"f{k}" for k in range(len(rows[0]))])
    before = separability(features.to_numpy(), sites)
    harmonised = ComBatHarmoniser(min_site_size=2).fit_transform(
        features.assign(**{SITE_COLUMN: sites})
    )
    after = separability(np.asarray(harmonised, dtype=float), sites)
    assert before > 1.5  # the sites are far apart at S = 2
    assert after < 0.2 < before / 5


def test_confound_shifts_and_records(tmp_path):
    config = SynthConfig(sites={"A": 3, "B": 3, "C": 2}, confound=True, confound_shift=1.5)
    assert config.site_shifts() == {"A": -1.5, "B": 0.0, "C": 1.5}
    assert set(SynthConfig().settings_record()) == set(SynthConfig().model_dump()) - {
        "scanner_effect", "confound", "confound_shift"
    }  # fmt: skip
    manifest = generate_cohort(
        tmp_path / "c", sites={"A": 3, "B": 3}, size="tiny", scanner_effect=2.0,
        confound=True, confound_shift=1.0, workers=1,
    )  # fmt: skip
    truth = pd.read_csv(manifest.parent / "truth.csv")
    assert truth.groupby("site")["site_shift"].first().to_dict() == {"A": -1.0, "B": 1.0}
    params = json.loads((manifest.parent / "synth.json").read_text(encoding="utf-8"))
    assert params["confound"]["site_shift"] == {"A": -1.0, "B": 1.0}
    assert params["scanner_effect"]["value"] == 2.0
    assert params["scanner_effect"]["reference_site"] == "A"
    assert params["scanners"]["B"]["t2w"]["snr"] == pytest.approx(8.5)
    # the shift moves the true probabilities: same latents, shifted log-odds
    unshifted = OUTCOME.linear_predictor(
        truth.filter(like="latent_").to_numpy()
    )  # latents in LATENTS order
    assert np.allclose(truth["linear_predictor"] - unshifted, truth["site_shift"], atol=1e-5)
