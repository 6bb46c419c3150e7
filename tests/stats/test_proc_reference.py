"""Every pROC number of refdata/delong reproduced to a relative 1e-8.

Runs on shared/refdata (skipped when absent) and on the copy in tests/data/delong, so the
comparison also guards CI machines without the shared folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiopipe.stats.delong import (
    auc_delong,
    delong_covariance,
    delong_test,
    delong_test_unpaired,
)

RTOL = 1e-8
COPY = Path(__file__).resolve().parents[1] / "data" / "delong"
MARKERS = ("wfns", "ndka", "s100b")


@pytest.fixture(params=["refdata", "copy"], scope="module")
def asah(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """(aSAH table, outcome as 0/1 with Poor = 1, expected pROC values)."""
    folder = request.getfixturevalue("refdata") / "delong" if request.param == "refdata" else COPY
    data = pd.read_csv(folder / "aSAH.csv")
    expected = json.loads((folder / "expected_pROC.json").read_text(encoding="utf-8"))
    y = (data["outcome"] == "Poor").astype(int).to_numpy()
    assert (y.sum(), (1 - y).sum()) == (41, 72)
    return data, y, expected


def close(ours: float, theirs: float) -> None:
    assert ours == pytest.approx(theirs, rel=RTOL, abs=0 if theirs else 1e-15)


@pytest.mark.parametrize("marker", MARKERS)
def test_auc_and_delong_variance(asah, marker: str) -> None:
    data, y, expected = asah
    result = auc_delong(y, data[marker])
    close(result.auc, expected["auc"][marker])
    close(result.variance, expected["var_delong"][marker])
    assert result.direction == "<"


def test_delong_covariances(asah) -> None:
    data, y, expected = asah
    aucs, cov, _ = delong_covariance(y, data[list(MARKERS)].to_numpy().T)
    index = {m: i for i, m in enumerate(MARKERS)}
    for pair, value in expected["cov_delong"].items():
        a, b = pair.split(",")
        close(cov[index[a], index[b]], value)
        close(cov[index[b], index[a]], value)
    for marker in MARKERS:
        close(cov[index[marker], index[marker]], expected["var_delong"][marker])
        close(aucs[index[marker]], expected["auc"][marker])


def test_ci_auc_delong(asah) -> None:
    data, y, expected = asah
    low, auc, high = expected["ci_auc_delong_95"]["ndka"]
    result = auc_delong(y, data["ndka"], confidence=0.95)
    close(result.ci_low, low)
    close(result.auc, auc)
    close(result.ci_high, high)


def test_ci_auc_delong_female_subset(asah) -> None:
    data, y, expected = asah
    female = (data["gender"] == "Female").to_numpy()
    low, auc, high = expected["ci_auc_delong_95"]["ndka_female_subset"]
    result = auc_delong(y[female], data.loc[female, "ndka"])
    close(result.ci_low, low)
    close(result.auc, auc)
    close(result.ci_high, high)


@pytest.mark.parametrize("pair", ["wfns_vs_s100b", "wfns_vs_ndka", "ndka_vs_s100b"])
def test_paired_roc_test(asah, pair: str) -> None:
    data, y, expected = asah
    ref = expected["roc_test_paired_delong_two_sided"][pair]
    a, b = pair.split("_vs_")
    result = delong_test(y, data[a], data[b])
    close(result.z, ref["Z"])
    close(result.p_value, ref["p"])
    close(result.ci_low, ref["diff_ci95"][0])
    close(result.ci_high, ref["diff_ci95"][1])
    close(result.difference, expected["auc"][a] - expected["auc"][b])
    if "p_greater" in ref:
        close(result.p_greater, ref["p_greater"])
        close(result.p_less, ref["p_less"])


def test_paired_roc_test_identical_curves(asah) -> None:
    data, y, expected = asah
    ref = expected["roc_test_paired_delong_two_sided"]["identical_curves"]
    result = delong_test(y, data["wfns"], data["wfns"].copy())
    assert result.z == ref["Z"]
    assert result.p_value == ref["p"]
    assert result.difference == 0.0
    assert (result.ci_low, result.ci_high) == (0.0, 0.0)


@pytest.mark.parametrize("pair", ["wfns_vs_s100b", "wfns_vs_ndka", "ndka_vs_s100b"])
def test_unpaired_roc_test(asah, pair: str) -> None:
    data, y, expected = asah
    ref = expected["roc_test_unpaired_delong"][pair]
    a, b = pair.split("_vs_")
    result = delong_test_unpaired(y, data[a], y, data[b])
    close(result.d, ref["D"])
    close(result.p_value, ref["p"])
    if "p_greater" in ref:
        close(result.p_greater, ref["p_greater"])
        close(result.p_less, ref["p_less"])
    var_a, var_b = expected["var_delong"][a], expected["var_delong"][b]
    close(result.df, (var_a + var_b) ** 2 / (var_a**2 / 112 + var_b**2 / 112))
