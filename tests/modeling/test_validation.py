"""Designs, outer folds, the Youden threshold, tables, settings, and the late-fusion hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiopipe.config import load_config
from radiopipe.config.model import ModelConfig
from radiopipe.errors import ConfigError, InputError
from radiopipe.modeling.fusion import values_for_unit
from radiopipe.modeling.tables import load_model_data
from radiopipe.modeling.validation import (
    FIXED,
    NESTED,
    development_patients,
    outer_folds,
    plan_units,
    resolve_design,
    youden_threshold,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "model"


def test_outer_folds_are_stratified_by_outcome_and_site() -> None:
    index = [f"P{i}" for i in range(60)]
    labels = pd.Series(np.arange(60) % 2, index=index)
    sites = pd.Series(np.where(np.arange(60) < 20, "A", "B"), index=index)
    folds = outer_folds(labels, sites, n_folds=5, n_repeats=2, seed=0)
    assert list(folds.columns) == ["patient_id", "repeat", "fold"]
    assert folds.groupby("repeat")["patient_id"].apply(sorted).map(len).eq(60).all()
    held = folds.assign(
        label=labels.loc[folds["patient_id"]].to_numpy(),
        site=sites.loc[folds["patient_id"]].to_numpy(),
    )
    per_fold = held.groupby(["repeat", "fold", "site", "label"]).size()
    assert per_fold.loc[(0, slice(None), "A", 1)].eq(2).all()  # 10 site-A positives / 5 folds
    assert not folds[folds["repeat"] == 0]["fold"].equals(folds[folds["repeat"] == 1]["fold"])
    with pytest.raises(InputError, match="at least 5 patients of each outcome"):
        outer_folds(labels.iloc[:8], None, 5, 1, 0)


def test_designs_and_units() -> None:
    splits = pd.Series(
        ["train"] * 6 + ["internal_test", "external_test"], index=[f"P{i}" for i in range(8)]
    )
    assert resolve_design("auto", splits) == FIXED
    assert resolve_design("auto", pd.Series(["", ""], index=["a", "b"])) == NESTED
    with pytest.raises(InputError, match="fixed_split design needs"):
        resolve_design(FIXED, pd.Series(["", ""], index=["a", "b"]))
    development = development_patients(splits, FIXED)
    assert development == [f"P{i}" for i in range(6)]
    assert development_patients(splits, NESTED) == development  # test splits never in CV
    folds = pd.DataFrame({"patient_id": development, "repeat": 0, "fold": [0, 1, 2, 0, 1, 2]})
    units = plan_units(folds, development, list(splits.index), FIXED)
    assert [u.name for u in units] == ["fold-000", "fold-001", "fold-002", "final"]
    assert units[0].test == ("P0", "P3") and "P0" not in units[0].train
    assert units[0].oof_split == "train_oof"
    assert units[-1].is_final and units[-1].train == tuple(development)
    assert len(units[-1].test) == 8


def test_youden_threshold() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert youden_threshold(labels, np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])) == 0.6
    assert youden_threshold(labels, np.array([0.1, 0.5, 0.3, 0.4, 0.7, 0.8])) == 0.7


def test_paper_config_is_the_default_and_fast_config_loads() -> None:
    assert load_config(CONFIGS / "paper.yaml", ModelConfig) == ModelConfig()
    fast = load_config(CONFIGS / "fast.yaml", ModelConfig)
    assert fast.learners.n_trials < ModelConfig().learners.n_trials


def test_settings_reject_leaky_or_unknown_values(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("harmonize:\n  covariates: [age, label]\n")
    with pytest.raises(ConfigError, match="never the outcome"):
        load_config(bad, ModelConfig)
    bad.write_text("fusion:\n  model: densenet\n")
    with pytest.raises(ConfigError, match="late fusion needs both"):
        load_config(bad, ModelConfig)
    bad.write_text("ttest:\n  alpha: 0.05\n  q: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'ttest.q'"):
        load_config(bad, ModelConfig)
    bad.write_text(
        "learners:\n  search_spaces:\n    svm:\n      C: {type: float, low: 10, high: 1}\n"
    )
    with pytest.raises(ConfigError, match="low"):
        load_config(bad, ModelConfig)


def test_tables_join_the_manifest_and_name_problems(tmp_path, two_site_cohort) -> None:
    from radiopipe.synth.feature_table import write_cohort

    features, manifest = write_cohort(two_site_cohort, tmp_path)
    data = load_model_data(features, manifest, covariates=["age"])
    assert data.has_sites and list(data.X.columns[-2:]) == ["meta__site", "meta__age"]
    assert data.labels.dtype == "Int64" and data.features == list(data.X.columns[:-2])
    with pytest.raises(ConfigError, match="not manifest columns"):
        load_model_data(features, manifest, covariates=["weight"])
    table = pd.read_csv(manifest)
    pd.concat([table, table.iloc[[0]].assign(patient_id="GHOST")]).to_csv(
        tmp_path / "more.csv", index=False
    )
    with pytest.raises(InputError, match="no features: GHOST"):
        load_model_data(features, tmp_path / "more.csv")
    table.assign(label=table["label"].astype(str).replace("1", "yes")).to_csv(
        tmp_path / "words.csv", index=False
    )
    with pytest.raises(InputError, match="labels must be 0 or 1"):
        load_model_data(features, tmp_path / "words.csv")
    twice = pd.read_parquet(features)
    pd.concat([twice, twice.iloc[[3]]]).to_parquet(tmp_path / "twice.parquet", index=False)
    with pytest.raises(InputError, match="listed twice: P0003"):
        load_model_data(tmp_path / "twice.parquet", manifest)


def test_fusion_values_per_unit() -> None:
    from radiopipe.modeling.validation import Unit

    external = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d", "a", "b", "c", "d", "t"],
            "split": ["train_oof"] * 4 + ["train"] * 4 + ["external_test"],
            "fold": [0, 0, 1, 1, -1, -1, -1, -1, -1],
            "model": "cnn",
            "probability": [0.1, 0.2, 0.3, 0.4, 0.9, 0.9, 0.9, 0.9, 0.7],
        }
    )
    final = Unit("final", -1, -1, ("a", "b", "c", "d"), ("a", "b", "c", "d", "t"), None)
    values = values_for_unit(external, final, n_folds=2)
    assert values == {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4, "t": 0.7}  # OOF, never apparent
    fold = Unit("fold-000", 0, 0, ("c", "d"), ("a", "b"), "train_oof")
    assert values_for_unit(external, fold, n_folds=2) == {"c": 0.3, "d": 0.4, "a": 0.1, "b": 0.2}
    with pytest.raises(InputError, match=r"patient.*zz"):
        values_for_unit(external, Unit("fold-000", 0, 0, ("zz",), ("a",), "cv"), n_folds=2)
