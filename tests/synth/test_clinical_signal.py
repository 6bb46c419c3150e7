"""The synthetic covariates carry a known share of the outcome signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiopipe.synth import clinical_signal
from radiopipe.synth.outcome import OutcomeModel
from radiopipe.synth.patient import draw_profile


def test_share_is_known_and_tracks_the_true_log_odds() -> None:
    _, share = clinical_signal.signal_model()
    assert 0.4 < share < 0.8  # a clinical model learns much, not all (imaging adds the rest)
    outcome = OutcomeModel.calibrated(3.0, 0.57)
    profiles = [draw_profile(7, "A", i, outcome) for i in range(300)]
    covariates = pd.DataFrame([p.covariates() for p in profiles])
    columns = clinical_signal.clinical_columns(covariates, outcome)
    truth = np.array([p.linear_predictor for p in profiles])
    r = np.corrcoef(columns["clinical_linear_predictor"], truth)[0, 1]
    assert r**2 == pytest.approx(share, abs=0.12)
    assert (columns["clinical_share"] == round(share, 6)).all()
    assert clinical_signal.record()["share"] == share
