"""Decision curves against the net-benefit formula and dcurves; Holm against hand values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dcurves import dca

from radiopipe.stats.checks import StatsInputError
from radiopipe.stats.decision import decision_curve
from radiopipe.stats.multiplicity import holm


@pytest.fixture(scope="module")
def outcome() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(4)
    y = (rng.random(150) < 0.4).astype(int)
    good = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(size=150))))
    weak = 1 / (1 + np.exp(-(0.3 * (2 * y - 1) + rng.normal(size=150))))
    return y, {"stack": np.round(good, 2), "all": weak}  # a model literally named 'all'


def test_net_benefit_equals_formula(outcome) -> None:
    y, models = outcome
    grid = np.array([0.05, 0.2, 0.4, 0.6])
    table = decision_curve(y, models, grid)
    n, prevalence = y.size, y.mean()
    for name, p in models.items():
        rows = table.loc[table["model"] == name].set_index("threshold")
        for t in grid:
            treated = p >= t
            tp, fp = np.sum(treated & (y == 1)), np.sum(treated & (y == 0))
            assert rows.loc[t, "net_benefit"] == pytest.approx(tp / n - fp / n * t / (1 - t))
    everyone = table.loc[table["model"] == "treat_all"].set_index("threshold")["net_benefit"]
    np.testing.assert_allclose(everyone[grid], prevalence - (1 - prevalence) * grid / (1 - grid))
    nobody = table.loc[table["model"] == "treat_none", "net_benefit"]
    assert np.all(nobody == 0)
    assert set(table["model"]) == {"stack", "all", "treat_all", "treat_none"}


def test_same_numbers_as_dcurves(outcome) -> None:
    """Our own net-benefit code reproduces every column dcurves computes, for each model and
    for treat-all / treat-none (dcurves is a test dependency only)."""
    y, models = outcome
    grid = [0.01, 0.1, 0.25, 0.3, 0.5, 0.77, 0.99]
    data = pd.DataFrame({"event": y, "stack": models["stack"], "weak": models["all"]})
    direct = dca(data=data, outcome="event", modelnames=["stack", "weak"], thresholds=grid)
    direct["model"] = direct["model"].replace({"all": "treat_all", "none": "treat_none"})
    ours = decision_curve(y, {"stack": models["stack"], "weak": models["all"]}, grid)
    key = ["model", "threshold"]
    merged = ours.merge(direct, on=key, suffixes=("", "_dcurves"), validate="one_to_one")
    assert len(merged) == len(ours) == 4 * len(grid)
    for column in ("net_benefit", "net_intervention_avoided", "tp_rate", "fp_rate",
                   "test_pos_rate", "prevalence"):  # fmt: skip
        np.testing.assert_allclose(
            merged[column], merged[f"{column}_dcurves"], rtol=1e-12, atol=1e-15, err_msg=column
        )
    np.testing.assert_array_equal(merged["n"], merged["n_dcurves"])


def test_decision_curve_rejects_bad_input(outcome) -> None:
    y, models = outcome
    with pytest.raises(StatsInputError, match="within"):
        decision_curve(y, models, [0.0, 0.5])
    with pytest.raises(StatsInputError, match="model rf: 2 probabilities for 150 patients"):
        decision_curve(y, {"rf": np.array([0.1, 0.2])})


def test_holm_against_hand_computed_values() -> None:
    # sorted p: 0.01, 0.02, 0.03, 0.04 -> 4*0.01, 3*0.02, 2*0.03, 1*0.04, made monotone
    adjusted = holm([0.03, 0.01, 0.04, 0.02])
    np.testing.assert_allclose(adjusted, [0.06, 0.04, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.2, 0.5, 0.9]), [0.6, 1.0, 1.0])
    with_nan = holm([0.01, np.nan, 0.04])
    np.testing.assert_allclose(with_nan, [0.02, np.nan, 0.04])
    with pytest.raises(StatsInputError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])
