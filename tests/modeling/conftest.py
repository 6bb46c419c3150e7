"""Fixtures of the modelling tests: small synthetic feature tables and a tiny-budget config."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from radiopipe.config.model import ModelConfig
from radiopipe.modeling.columns import SITE_COLUMN
from radiopipe.synth.feature_table import SyntheticCohort, simulate_cohort, write_cohort


def tiny_config(**overrides: object) -> ModelConfig:
    """Every step on, the smallest budget that still exercises tuning and inner CV."""
    data: dict = {
        "cv": {"outer_folds": 3, "outer_repeats": 1, "inner_folds": 3},
        "lasso": {"n_strengths": 6},
        "learners": {
            "n_trials": 2,
            "timeout_s": None,
            "search_spaces": {  # small forests: the tests check behaviour, not accuracy
                "rf": {
                    "n_estimators": {"type": "int", "low": 20, "high": 60, "step": 20},
                    "max_depth": {"type": "int", "low": 2, "high": 6},
                },
                "lightgbm": {
                    "n_estimators": {"type": "int", "low": 20, "high": 60, "step": 20},
                    "num_leaves": {"type": "int", "low": 4, "high": 16},
                },
            },
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return ModelConfig.model_validate(data)


def tuned_learners_config(n_trials: int, ensemble_top: int = 1, **stack: object) -> ModelConfig:
    """tiny_config with auto's shape: logreg and rf tune their depth and balancing themselves
    (no t-test or LASSO cut), with the given stack settings."""
    learners = {"names": ["logreg", "rf"], "n_trials": n_trials, "timeout_s": None,
                "tune_features": True, "ensemble_top": ensemble_top,
                "search_spaces": tiny_config().learners.model_dump()["search_spaces"]}  # fmt: skip
    return tiny_config(balance={"method": "tune"}, ttest={"enabled": False},
                       lasso={"enabled": False}, learners=learners, stack=stack)  # fmt: skip


def model_frame(cohort: SyntheticCohort, covariates: tuple[str, ...] = ()) -> pd.DataFrame:
    """The modelling frame of a synthetic cohort: features + site (+ covariates) meta columns."""
    X = cohort.features.set_index("patient_id")
    X[SITE_COLUMN] = cohort.clinical["site"].to_numpy()
    for name in covariates:
        X[f"meta__{name}"] = cohort.clinical[name].to_numpy()
    return X


@pytest.fixture(scope="session")
def two_site_cohort() -> SyntheticCohort:
    """90 patients, 60 features, 2 sites with scanner effects, a moderate true signal."""
    return simulate_cohort(
        n_patients=90,
        n_features=60,
        n_informative=6,
        effect=0.9,
        n_sites=2,
        site_shift=1.0,
        site_scale=0.3,
        seed=11,
    )


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator."""
    return np.random.default_rng(0)


def write_config(path: Path, config: ModelConfig) -> Path:
    """A settings object as a YAML file for the CLI."""
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> SimpleNamespace:
    """``radiopipe train`` (in-process CLI) on 96 patients x 40 features from 3 sites; the
    third site is the external test set, never seen in training (fixed-split design)."""
    from typer.testing import CliRunner

    from radiopipe.cli import app

    cohort = simulate_cohort(
        n_patients=96,
        n_features=40,
        n_informative=5,
        effect=1.0,
        n_sites=3,
        site_shift=1.0,
        site_scale=0.3,
        external_site=True,
        seed=7,
    )
    folder = tmp_path_factory.mktemp("trained")
    features, manifest = write_cohort(cohort, folder / "data")
    config = write_config(folder / "tiny.yaml", tiny_config())
    out = folder / "run"
    args = [
        "train",
        "--features",
        features,
        "--manifest",
        manifest,
        "--config",
        config,
        "--out",
        out,
    ]
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return SimpleNamespace(
        cohort=cohort,
        features=features,
        manifest=manifest,
        config=config,
        out=out,
        output=result.output,
    )
