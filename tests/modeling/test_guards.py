"""Checks before fitting: leaking covariates and unscorable unseen sites fail at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiopipe.errors import ConfigError
from radiopipe.modeling.guards import check_covariates, check_unseen_sites, covariate_auc


@pytest.fixture
def labels() -> pd.Series:
    rng = np.random.default_rng(3)
    return pd.Series(rng.integers(0, 2, 80), index=[f"p{i}" for i in range(80)])


def test_a_recoded_outcome_is_refused_by_name(labels) -> None:
    table = pd.DataFrame(
        {
            "age": np.random.default_rng(0).normal(50, 8, len(labels)),
            "response_text": labels.map({0: "poor", 1: "good"}),  # the label, renamed
            "npvr": labels * 40.0 + 45.0 + np.random.default_rng(1).uniform(0, 5, len(labels)),
        },
        index=labels.index,
    )
    assert covariate_auc(table["response_text"], labels) == 1.0
    assert covariate_auc(-table["npvr"], labels) == 1.0  # inverted coding separates as well
    with pytest.raises(ConfigError, match=r"harmonise\.covariates") as err:
        check_covariates(table, labels, ["age", "response_text", "npvr"], "harmonise.covariates")
    assert "'response_text'" in str(err.value) and "'npvr'" in str(err.value)
    assert "'age'" not in str(err.value)
    check_covariates(table, labels, ["age"], "harmonise.covariates")  # an honest one passes


def test_a_strong_but_imperfect_covariate_is_allowed(labels) -> None:
    noisy = labels.astype(float).copy()
    noisy.iloc[:16] = 1 - noisy.iloc[:16]  # 20% flipped: AUC 0.8
    table = pd.DataFrame({"fibroid_type": noisy.map({0.0: "I", 1.0: "II"})})
    assert 0.7 < covariate_auc(table["fibroid_type"], labels) < 0.95
    check_covariates(table, labels, ["fibroid_type"], "harmonise.covariates")


def _sites() -> pd.Series:
    return pd.Series(["A"] * 20 + ["B"] * 10 + ["C"] * 4, index=[f"p{i}" for i in range(34)])


def test_a_small_unseen_site_fails_before_fitting_naming_site_size_and_choices() -> None:
    sites = _sites()
    development = list(sites.index[:30])  # A and B train; C (4 patients) is unseen
    with pytest.raises(ConfigError) as err:
        check_unseen_sites(sites, development, "estimate", 10)
    message = str(err.value)
    assert "'C' has 4" in message and "passthrough" in message and "min_site_size" in message
    check_unseen_sites(sites, development, "estimate", 4)
    check_unseen_sites(sites, development, "passthrough", 10)
    with pytest.raises(ConfigError, match="'C' \\(4 patients\\)"):
        check_unseen_sites(sites, development, "error", 10)
    check_unseen_sites(sites, list(sites.index), "error", 10)  # no unseen site: nothing to say


def test_train_refuses_before_the_first_fit(tmp_path, monkeypatch) -> None:
    """A leaking ComBat covariate and a too-small unseen site stop ``train`` before any fit."""
    from radiopipe.modeling import training

    from .conftest import simulate_cohort, tiny_config, write_cohort

    cohort = simulate_cohort(n_patients=60, n_features=12, n_informative=3, effect=1.0,
                             n_sites=3, external_site=True, seed=2)  # fmt: skip
    cohort.clinical["outcome_copy"] = cohort.clinical["label"].map({0: "no", 1: "yes"})
    features, manifest = write_cohort(cohort, tmp_path / "data")
    monkeypatch.setattr(training, "run_unit", _no_fit)
    leaky = tiny_config(harmonise={"covariates": ["outcome_copy"]})
    with pytest.raises(ConfigError, match="'outcome_copy'"):
        training.train(features, manifest, leaky, tmp_path / "leaky")
    external = int((cohort.clinical["split"] == "external_test").sum())
    strict = tiny_config(harmonise={"min_site_size": external + 1})
    with pytest.raises(ConfigError, match=f"has {external};"):
        training.train(features, manifest, strict, tmp_path / "small")


def _no_fit(*args, **kwargs):
    raise AssertionError("a model was fitted before the checks")
