"""NRI and IDI of the clinical comparisons: hand-computed values, bootstrap CIs, the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiopipe.stats.reclassification import (
    bootstrap_nri_idi,
    clinical_comparisons,
    family_pairs,
    nri_idi,
)


def test_nri_and_idi_by_hand() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    old = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    new = np.array([0.7, 0.6, 0.4, 0.3, 0.4, 0.6, 0.5])
    got = nri_idi(y, new, old)
    # events: 2 up, 1 down -> 1/3; non-events: 2 down, 1 up, 1 same -> 1/4
    assert got["nri_events"] == pytest.approx(1 / 3)
    assert got["nri_non_events"] == pytest.approx(1 / 4)
    assert got["nri"] == pytest.approx(7 / 12)
    # IDI: mean change in events (0.2+0.1-0.1)/3 minus in non-events (-0.2-0.1+0.1+0)/4
    assert got["idi"] == pytest.approx(0.2 / 3 + 0.05)
    same = nri_idi(y, old, old)
    assert same["nri"] == 0 and same["idi"] == 0


def test_bootstrap_replicates_are_seeded_and_bracket_the_estimate() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    old = rng.random(120)
    new = np.clip(old + 0.2 * (y - 0.5) + rng.normal(0, 0.05, 120), 0, 1)
    nri, idi = bootstrap_nri_idi(y, new, old, 500, 3)
    again, _ = bootstrap_nri_idi(y, new, old, 500, 3)
    np.testing.assert_array_equal(nri, again)
    point = nri_idi(y, new, old)
    assert np.quantile(nri, 0.025) < point["nri"] < np.quantile(nri, 0.975)
    assert np.quantile(idi, 0.025) > 0  # a real improvement


def test_clinical_comparison_table() -> None:
    assert family_pairs(["stack", "svm", "combined", "clinical"]) == [
        ("stack", "clinical"), ("combined", "clinical"), ("combined", "stack"),
    ]  # fmt: skip
    rng = np.random.default_rng(1)
    rows = []
    for split in ("train", "internal_test"):
        y = rng.integers(0, 2, 40)
        for model, noise in (("clinical", 1.0), ("combined", 0.3), ("svm", 0.5)):
            p = 1 / (1 + np.exp(-(y - 0.5) * 2 - rng.normal(0, noise, 40)))
            rows.append(
                pd.DataFrame(
                    {
                        "patient_id": [f"P{i}" for i in range(40)],
                        "split": split,
                        "fold": -1,
                        "model": model,
                        "probability": p,
                        "label": y,
                    }
                )
            )
    table = clinical_comparisons(pd.concat(rows), n_resamples=200)
    assert list(table["split"]) == ["internal_test"]  # never the apparent train rows
    row = table.iloc[0]
    assert (row["model"], row["reference"]) == ("combined", "clinical")
    assert row["nri_ci_low"] <= row["nri"] <= row["nri_ci_high"]
    assert row["p_holm"] == pytest.approx(row["delong_p"])  # a family of one
