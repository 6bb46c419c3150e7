"""A synthetic cohort's known answer (truth.csv) follows the manifest through every stage that
writes a new one (cohort, preprocess, segment), so evaluate finds it for a given manifest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from radiopipe.config.pipeline import load_pipeline
from radiopipe.pipeline import run_pipeline

PARAMS = {
    "imageType": {"Original": {}},
    "featureClass": {"firstorder": None},
    "setting": {"binWidth": 25, "label": 1},
}
MODEL = {
    "design": "fixed_split",
    "cv": {"outer_folds": 2, "inner_folds": 2},
    "icc": {"enabled": False},
    "harmonise": {"method": "none"},
    "balance": {"method": "class_weight"},
    "lasso": {"n_strengths": 3},
    "learners": {"names": ["svm"], "n_trials": 1},
}


def test_truth_follows_a_given_manifest_through_cohort_and_preprocess(
    synthetic_cohort, tmp_path: Path
) -> None:
    manifest = synthetic_cohort(
        sites={"A": 14, "B": 12, "C": 10}, external_sites=["C"], effect_size=4.0, seed=3
    )
    truth = (manifest.parent / "truth.csv").read_bytes()
    preprocess = {"bias_correction": {"enabled": False}, "resample": {"spacing": None}}
    (tmp_path / "preprocess.yaml").write_text(yaml.safe_dump(preprocess), encoding="utf-8")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS), encoding="utf-8")
    study = {
        "name": "truth",
        "cohort": {"manifest": str(manifest)},
        "preprocess": {"config": "preprocess.yaml", "workers": 1},
        "extract": {"params": "params.yaml", "execution": {"workers": 0}},
        "train": {"config": "model.yaml"},
        "evaluate": {"config": "evaluate.yaml"},
    }
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(MODEL), encoding="utf-8")
    (tmp_path / "evaluate.yaml").write_text(yaml.safe_dump({"n_bootstrap": 100}), encoding="utf-8")
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study), encoding="utf-8")
    run_pipeline(load_pipeline(tmp_path / "study.yaml"), tmp_path / "run")
    for stage in ("cohort", "preprocess"):
        copied = tmp_path / "run" / stage / "truth.csv"
        assert (copied.parent / "manifest.csv").is_file(), stage
        assert copied.read_bytes() == truth, stage
    known = pd.read_csv(tmp_path / "run" / "evaluate" / "known_answer.csv")
    assert {"train_oof", "internal_test", "external_test"} <= set(known["split"])


def test_a_real_cohort_gets_no_truth(tmp_path: Path) -> None:
    from radiopipe.pipeline.cohort_stages import carry_truth

    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    assert carry_truth(tmp_path / "in" / "manifest.csv", tmp_path / "out" / "manifest.csv") == {}
    assert not (tmp_path / "out" / "truth.csv").exists()
