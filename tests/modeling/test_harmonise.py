"""ComBat as a pipeline step: unseen sites, errors, covariates, effect on site/outcome AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import Pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler

from radiopipe.errors import InputError
from radiopipe.modeling.harmonise import ComBatHarmoniser, DropMeta
from radiopipe.synth.feature_table import simulate_cohort

from .conftest import model_frame


def _site_frame(rng: np.random.Generator, n: int, p: int, site: str, shift=0.0, scale=1.0):
    base = rng.normal(size=(n, p)) * np.linspace(1, 3, p) + np.linspace(0, 10, p)
    frame = pd.DataFrame(base * scale + shift, columns=[f"f{j}" for j in range(p)])
    frame.index = [f"{site}{i}" for i in range(n)]
    frame["meta__site"] = site
    return frame


@pytest.fixture
def training(rng) -> pd.DataFrame:
    return pd.concat([_site_frame(rng, 40, 30, "a"), _site_frame(rng, 40, 30, "b", 2.0, 1.5)])


def test_unseen_site_is_estimated_from_its_own_patients(rng, training) -> None:
    """A new scanner = site-a-like patients under an affine scanner effect; after estimating the
    new site's effect they land where the same patients land as site a."""
    harmoniser = ComBatHarmoniser().fit(training)
    held_out = _site_frame(rng, 30, 30, "a")
    as_known = harmoniser.transform(held_out)
    new_scanner = held_out.copy()
    new_scanner.iloc[:, :30] = held_out.iloc[:, :30] * 1.8 + 3.0
    new_scanner["meta__site"] = "c"
    as_new = harmoniser.transform(new_scanner)
    spread = as_known.std(axis=0)
    before = np.abs(new_scanner.iloc[:, :30].mean(axis=0) - as_known.mean(axis=0)) / spread
    after = np.abs(as_new.mean(axis=0) - as_known.mean(axis=0)) / spread
    assert before.min() > 1.0
    assert after.mean() < 0.25 and after.max() < 0.6  # sampling error of two site estimates
    per_feature_r = [np.corrcoef(as_new[c], as_known[c])[0, 1] for c in as_known.columns]
    assert min(per_feature_r) > 0.999  # an affine map per feature, nothing else


def test_unseen_site_rule_without_eb_ignores_the_scanner_transform(rng, training) -> None:
    harmoniser = ComBatHarmoniser(empirical_bayes=False).fit(training)
    patients = _site_frame(rng, 20, 30, "new")
    scanned = patients.copy()
    scanned.iloc[:, :30] = patients.iloc[:, :30] * 0.4 - 7.0
    np.testing.assert_allclose(
        harmoniser.transform(scanned).to_numpy(),
        harmoniser.transform(patients).to_numpy(),
        atol=1e-9,
    )


def test_unseen_site_without_eb_gets_grand_mean_and_pooled_sd(rng, training) -> None:
    harmoniser = ComBatHarmoniser(empirical_bayes=False).fit(training)
    out = harmoniser.transform(_site_frame(rng, 25, 30, "new", shift=-4.0, scale=0.3))
    np.testing.assert_allclose(out.mean(axis=0), harmoniser.grand_mean_, rtol=1e-10)
    np.testing.assert_allclose(out.std(axis=0, ddof=1), np.sqrt(harmoniser.var_pooled_), rtol=1e-10)


def test_unseen_site_rules(rng, training) -> None:
    small = _site_frame(rng, 6, 30, "tiny", shift=1.0)
    with pytest.raises(InputError, match=r"site 'tiny'.*6 patient\(s\).*at least 10"):
        ComBatHarmoniser().fit(training).transform(small)
    passed = ComBatHarmoniser(unseen_site="passthrough").fit(training).transform(small)
    np.testing.assert_array_equal(passed.to_numpy(), small.iloc[:, :30].to_numpy())
    with pytest.raises(InputError, match="was not in the training data"):
        ComBatHarmoniser(unseen_site="error").fit(training).transform(small)
    mixed = pd.concat([training.iloc[:5], small])
    out = ComBatHarmoniser(unseen_site="passthrough", min_site_size=2).fit(training)
    np.testing.assert_allclose(out.transform(mixed).iloc[:5], out.transform(training.iloc[:5]))


def test_bad_sites_are_clear_errors(training) -> None:
    missing = training.copy()
    missing.loc["a3", "meta__site"] = ""
    with pytest.raises(InputError, match=r"no site for patient.*a3"):
        ComBatHarmoniser().fit(missing)
    lonely = training.copy()
    lonely.loc["a0", "meta__site"] = "z"
    with pytest.raises(InputError, match="z have a single training patient"):
        ComBatHarmoniser().fit(lonely)
    with pytest.raises(ValueError, match="meta__site"):
        ComBatHarmoniser().fit(training.drop(columns="meta__site"))


@pytest.mark.parametrize("settings", [{}, {"empirical_bayes": False}, {"parametric": False},
                                      {"mean_only": True}])  # fmt: skip
def test_one_training_site_is_reference_batch_combat(rng, training, settings) -> None:
    """Trained on site a alone (the study's design: one centre trains, the other is external),
    a's patients stay as they are and site b is mapped onto a exactly as reference-batch ComBat
    (neuroHarmonize/sva ``ref_batch="a"``) trained on both sites maps it."""
    site_a = training[training["meta__site"] == "a"]
    site_b = training[training["meta__site"] == "b"]
    alone = ComBatHarmoniser(**settings).fit(site_a)
    both = ComBatHarmoniser(reference_site="a", **settings).fit(training)
    features = site_a.columns[:-1]
    np.testing.assert_allclose(alone.transform(site_a).to_numpy(), site_a[features].to_numpy())
    np.testing.assert_allclose(
        alone.transform(site_b).to_numpy(), both.transform(site_b).to_numpy(), rtol=1e-8,
        atol=1e-10,
    )  # fmt: skip
    shifted = site_b[features].mean() - site_a[features].mean()
    mapped = alone.transform(site_b).mean() - site_a[features].mean()
    assert mapped.abs().mean() < 0.3 * shifted.abs().mean()  # b's location moved onto a's


def test_categorical_covariate_equals_its_numeric_coding(rng, training) -> None:
    coded = training.copy()
    coded["meta__sex"] = rng.integers(0, 2, len(training))
    text = coded.copy()
    text["meta__sex"] = np.where(coded["meta__sex"] == 1, "M", "F")
    numeric = ComBatHarmoniser(covariates=("sex",)).fit(coded).transform(coded)
    categorical = ComBatHarmoniser(covariates=("sex",)).fit(text).transform(text)
    np.testing.assert_allclose(numeric.to_numpy(), categorical.to_numpy(), atol=1e-10)


def test_feature_explained_by_site_is_left_unchanged(training) -> None:
    data = training.copy()
    data["f_site"] = np.where(data["meta__site"] == "a", 1.0, 5.0)
    out = ComBatHarmoniser().fit(data).transform(data)
    np.testing.assert_array_equal(out["f_site"], data["f_site"])
    assert np.isfinite(out.to_numpy()).all()


def _cv_auc(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    strata = pd.Series(y).astype(str) + X["meta__site"].to_numpy()
    splits = list(folds.split(X, strata))
    return roc_auc_score(
        y, cross_val_predict(pipeline, X, y, cv=splits, method="predict_proba")[:, 1]
    )


def test_harmonisation_removes_site_signal_but_keeps_outcome_signal() -> None:
    """Issue 4 (iii): strong scanner effects; ComBat, fitted in the training folds only, drops
    the site-prediction AUC towards 0.5 while the outcome AUC does not fall."""
    cohort = simulate_cohort(
        n_patients=160,
        n_features=40,
        n_informative=8,
        effect=0.6,
        n_sites=2,
        site_shift=2.0,
        site_scale=0.5,
        seed=5,
    )
    X = model_frame(cohort)
    site = (cohort.clinical["site"] == "S2").to_numpy().astype(int)
    outcome = cohort.clinical["label"].to_numpy()

    def pipe(harmonise: object) -> Pipeline:
        return Pipeline(
            [
                ("harmonise", harmonise),
                ("scale", StandardScaler()),
                ("model", LogisticRegression(C=0.1, max_iter=1000)),
            ]
        )

    site_raw, site_combat = (
        _cv_auc(pipe(DropMeta()), X, site),
        _cv_auc(pipe(ComBatHarmoniser()), X, site),
    )
    outcome_raw = _cv_auc(pipe(DropMeta()), X, outcome)
    outcome_combat = _cv_auc(pipe(ComBatHarmoniser()), X, outcome)
    assert site_raw > 0.95
    assert abs(site_combat - 0.5) < 0.12
    assert outcome_combat >= outcome_raw - 0.02
    assert outcome_combat > 0.75


def test_both_spellings_of_the_settings_key_are_read_and_one_is_written() -> None:
    from radiopipe.config import parse_config
    from radiopipe.config.model import ModelConfig
    from radiopipe.errors import ConfigError
    from radiopipe.report.methods import get

    old = parse_config({"harmonize": {"method": "none"}}, ModelConfig)
    new = parse_config({"harmonise": {"method": "none"}}, ModelConfig)
    assert old == new and new.harmonise.method == "none" and new.harmonize is new.harmonise
    dumped = new.model_dump(mode="json")
    assert "harmonise" in dumped and "harmonize" not in dumped
    with pytest.raises(ConfigError, match="harmoni"):
        parse_config({"harmonise": {}, "harmonize": {}}, ModelConfig)
    # a run folder written before the rename still reads in the report
    assert get({"harmonize": {"method": "combat"}}, "harmonise.method") == "combat"


def test_models_saved_under_the_earlier_module_name_still_resolve() -> None:
    from radiopipe.modeling import harmonize
    from radiopipe.modeling.persistence import TRUSTED_TYPES

    assert harmonize.ComBatHarmonizer is ComBatHarmoniser and harmonize.DropMeta is DropMeta
    assert "radiopipe.modeling.harmonize.ComBatHarmonizer" in TRUSTED_TYPES
