"""ICC(2,1), vectorised over features, against pingouin's intraclass_corr."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from radiopipe.features.icc import icc2_1


def pingouin_icc2(x: np.ndarray) -> pd.Series:
    """pingouin's ICC(A,1) row for one (patients, raters) matrix."""
    n, k = x.shape
    long = pd.DataFrame(
        {"target": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n), "y": x.ravel()}
    )
    table = pg.intraclass_corr(long, "target", "rater", "y", nan_policy="omit")
    return table.set_index("Type").loc["ICC(A,1)"]


@pytest.mark.parametrize(("n", "k"), [(30, 2), (12, 4), (100, 3)])
def test_matches_pingouin(n: int, k: int) -> None:
    rng = np.random.default_rng(n * k)
    spread = np.array([2.0, 0.5, 0.05, 1.0])  # from excellent to poor agreement
    truth = rng.normal(size=(n, 1, 4)) * spread
    bias = rng.normal(size=(1, k, 4)) * 0.3  # rater offsets: absolute agreement penalises them
    ratings = 1e4 + 50 * (truth + bias + 0.3 * rng.normal(size=(n, k, 4)))
    ours = icc2_1(ratings)
    for j in range(4):
        theirs = pingouin_icc2(ratings[:, :, j])
        assert ours.loc[j, "icc"] == pytest.approx(theirs["ICC"], rel=1e-9, abs=1e-12)
        assert ours.loc[j, "f"] == pytest.approx(theirs["F"], rel=1e-9)
        assert ours.loc[j, "pval"] == pytest.approx(theirs["pval"], rel=1e-6, abs=1e-300)
        assert ours.loc[j, "df2"] == theirs["df2"]
        # pingouin prints its interval rounded to 2 decimals
        low, high = theirs["CI95"]
        assert ours.loc[j, "ci95_low"] == pytest.approx(low, abs=0.005 + 1e-9)
        assert ours.loc[j, "ci95_high"] == pytest.approx(high, abs=0.005 + 1e-9)
        assert ours.loc[j, "ci95_low"] <= ours.loc[j, "icc"] <= ours.loc[j, "ci95_high"]
    assert (ours["n_patients"] == n).all() and (ours["n_raters"] == k).all()


def test_missing_ratings_drop_the_patient_for_that_feature_only() -> None:
    rng = np.random.default_rng(1)
    ratings = rng.normal(size=(20, 3, 2)) + rng.normal(size=(20, 1, 2)) * 3
    ratings[4, 1, 1] = np.nan
    ours = icc2_1(ratings)
    assert list(ours["n_patients"]) == [20, 19]
    theirs = pingouin_icc2(ratings[:, :, 1])  # nan_policy="omit": listwise deletion
    assert ours.loc[1, "icc"] == pytest.approx(theirs["ICC"], rel=1e-9)


def test_edge_cases() -> None:
    rng = np.random.default_rng(2)
    same = np.repeat(rng.normal(size=(10, 1)), 2, axis=1)
    constant = np.ones((10, 2))
    one_patient = np.full((10, 2), np.nan)
    one_patient[0] = [1.0, 2.0]
    table = icc2_1(np.stack([same, constant, one_patient], axis=2))
    assert table.loc[0, "icc"] == pytest.approx(1.0)
    assert np.isnan(table.loc[1, "icc"])  # no variance: agreement undefined
    assert np.isnan(table.loc[2, "icc"]) and table.loc[2, "n_patients"] == 1
    with pytest.raises(ValueError, match="raters >= 2"):
        icc2_1(np.ones((5, 1, 3)))
