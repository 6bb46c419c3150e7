"""ComBat against R (neuroCombat = sva::ComBat): every variant of shared/refdata/combat to 1e-8."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

from radiopipe.modeling import combat
from radiopipe.modeling.harmonise import ComBatHarmoniser

pytestmark = pytest.mark.refdata

CASES = [
    f"{kind}_{adj}{eb}{mean}{ref}"
    for kind in ("parametric", "nonparametric")
    for adj in ("adjusted", "unadjusted")
    for eb in ("", "_noeb")
    for mean in ("", "_meanonly")
    for ref in ("", "_batchref")
]


def _frame(refdata, with_pheno: bool) -> pd.DataFrame:
    """testdata.csv (features in rows) as our modelling frame: batch 1,1,1,1,1,2,2,2,2,2."""
    data = pd.read_csv(refdata / "combat" / "testdata.csv").to_numpy().T
    X = pd.DataFrame(
        data,
        index=[f"s{i + 1}" for i in range(10)],
        columns=[f"f{j}" for j in range(data.shape[1])],
    )
    X["meta__site"] = ["1"] * 5 + ["2"] * 5
    if with_pheno:
        X["meta__pheno"] = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    return X


def _expected(refdata, case: str) -> np.ndarray:
    return (
        pd.read_csv(refdata / "combat" / "r_outputs" / f"testdata_combat_{case}_r.csv").to_numpy().T
    )


@pytest.mark.parametrize("case", CASES)
def test_matches_r(refdata, case: str) -> None:
    adjusted = "_adjusted" in case
    harmoniser = ComBatHarmoniser(
        covariates=("pheno",) if adjusted else (),
        parametric=case.startswith("parametric"),
        empirical_bayes="_noeb" not in case,
        mean_only="_meanonly" in case,
        reference_site="1" if "_batchref" in case else None,
    )
    X = _frame(refdata, adjusted)
    out = harmoniser.fit(X).transform(X)
    assert list(out.columns) == [c for c in X.columns if not c.startswith("meta__")]
    np.testing.assert_allclose(out.to_numpy(), _expected(refdata, case), rtol=0, atol=1e-8)


def test_apply_without_covariates_matches_r_from_training(refdata) -> None:
    """R neuroCombatFromTraining (scenario 2): covariate-adjusted model, test patients without
    covariates get the average covariate effect = our training-mean imputation."""
    X = _frame(refdata, with_pheno=True)
    harmoniser = ComBatHarmoniser(covariates=("pheno",)).fit(X)
    test = X.iloc[[0, 1, 5, 6]].copy()
    test["meta__pheno"] = np.nan
    expected = pd.read_csv(refdata / "combat" / "r_outputs" / "training_test_scenario2_r.csv")
    np.testing.assert_allclose(
        harmoniser.transform(test).to_numpy(), expected.to_numpy().T, rtol=0, atol=1e-8
    )


def _r_int_eprior(sdat: np.ndarray, g_hat: np.ndarray, d_hat: np.ndarray) -> tuple:
    """sva's int.eprior written as in R (a loop, densities multiplied directly)."""
    g_star, d_star = [], []
    for i in range(sdat.shape[0]):
        g, d = np.delete(g_hat, i), np.delete(d_hat, i)
        x = sdat[i]
        sum2 = ((x[None, :] - g[:, None]) ** 2).sum(axis=1)
        lh = 1 / (2 * np.pi * d) ** (len(x) / 2) * np.exp(-sum2 / (2 * d))
        g_star.append((g * lh).sum() / lh.sum())
        d_star.append((d * lh).sum() / lh.sum())
    return np.array(g_star), np.array(d_star)


def test_nonparametric_prior_equals_r_loop_and_survives_large_sites(rng) -> None:
    small = rng.normal(0.3, 1.1, size=(8, 700))  # 8 patients x 700 features (2 blocks)
    g_hat, d_hat = small.mean(axis=0), small.var(axis=0, ddof=1)
    ours = combat.nonparametric_adjustments(small, g_hat, d_hat)
    reference = _r_int_eprior(small.T, g_hat, d_hat)
    np.testing.assert_allclose(ours[0], reference[0], rtol=1e-10)
    np.testing.assert_allclose(ours[1], reference[1], rtol=1e-10)
    large = rng.normal(0.3, 1.1, size=(900, 50))  # R's product of densities underflows here
    g_hat, d_hat = large.mean(axis=0), large.var(axis=0, ddof=1)
    with np.errstate(all="ignore"):
        assert np.isnan(_r_int_eprior(large.T, g_hat, d_hat)[0]).all()
    gamma, delta = combat.nonparametric_adjustments(large, g_hat, d_hat)
    assert np.isfinite(gamma).all() and np.isfinite(delta).all()


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_learn_matches_neuroharmonize_parametric(rng) -> None:
    """Our learned estimates are neuroHarmonize's own (parametric EB, covariate)."""
    from neuroHarmonize import harmonizationLearn

    data = rng.normal(size=(40, 12)) + np.repeat([[0.0], [1.5]], 20, axis=0)
    sites = np.repeat(["a", "b"], 20)
    age = rng.uniform(20, 60, size=(40, 1))
    with contextlib.redirect_stdout(io.StringIO()):
        est = combat.learn(data, sites, age, combat.Settings())
        model, adjusted = harmonizationLearn(data, pd.DataFrame({"SITE": sites, "age": age[:, 0]}))
        ours = combat.apply_known(data, sites, age, est)
    np.testing.assert_allclose(ours, adjusted, atol=1e-10)
    np.testing.assert_allclose(est.gamma, model["gamma_star"], atol=1e-12)


def test_apply_known_equals_harmonization_apply_and_works_per_site(rng) -> None:
    """Our apply gives neuroHarmonize harmonizationApply's numbers (all sites present) and,
    unlike it, also works for one patient of one site."""
    from neuroHarmonize import harmonizationApply

    data = rng.normal(size=(30, 8)) * np.repeat([[1.0], [2.0], [0.5]], 10, axis=0)
    sites = np.repeat(["a", "b", "c"], 10)
    age = rng.uniform(20, 60, size=(30, 1))
    for settings in (combat.Settings(), combat.Settings(reference_site="b")):
        with contextlib.redirect_stdout(io.StringIO()):
            est = combat.learn(data, sites, age, settings)
        theirs = harmonizationApply(
            data, pd.DataFrame({"SITE": sites, "cov0": age[:, 0]}), combat.neuroharmonize_model(est)
        )
        ours = combat.apply_known(data, sites, age, est)
        np.testing.assert_allclose(ours, theirs, atol=1e-10)
        one = combat.apply_known(data[[12]], sites[[12]], age[[12]], est)
        np.testing.assert_allclose(one, ours[[12]], atol=1e-12)
