"""The stage functions radiopipe run calls: manifest + settings + folder -> Parquet files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radiopipe.atomic import read_parquet_metadata
from radiopipe.cohort.manifest import read_manifest
from radiopipe.features.naming import parse_column
from radiopipe.features.params import load_params
from radiopipe.features.robustness import robustness_patients
from radiopipe.features.stage import FailedCasesError, extract_features, robustness_icc
from tests.conftest import write_volume
from tests.features.conftest import DEMO, FAST, SHAPE, build_cohort

IN_PROCESS = {"workers": 0}


def test_synthetic_cohort_through_extract_and_robustness(synthetic_cohort, tmp_path: Path) -> None:
    manifest = synthetic_cohort(sites="A:4", size="tiny", seed=3)  # 3 training patients
    cohort = read_manifest(manifest)
    out = tmp_path / "extract"
    params = DEMO
    settings = {"params": str(params), "execution": IN_PROCESS, "sequences": ["t2w"]}
    result = extract_features(manifest, settings, out, show_progress=False)
    features = pd.read_parquet(out / "features.parquet")
    assert list(features["patient_id"]) == cohort.patients
    assert features.shape[1] == 1 + 14 + 2 * 93  # shape + (original, LoG 3 mm) x 93
    assert (features.drop(columns="patient_id").dtypes == np.float64).all()
    assert features.drop(columns="patient_id").notna().all().all()
    for name in features.columns[1:]:
        assert parse_column(name).sequence == "t2w"
    assert read_parquet_metadata(out / "features.parquet")["settings_sha256"] == (
        load_params(params).sha256
    )
    diagnostics = pd.read_parquet(out / "diagnostics.parquet")
    assert (diagnostics["radiopipe_cpu_seconds"] > 0).all()
    assert result.failures.empty and (out / "failures.csv").is_file()

    training = cohort.table.loc[cohort.table["split"] == "train", "patient_id"]
    assert len(training) >= 3
    icc_settings = {
        "params": str(params), "cache": str(out / "cache"), "max_patients": 2, "sequences": ["t2w"],
        "perturbation": {"contour_repeats": 0}, "execution": IN_PROCESS,
    }  # fmt: skip
    robust = robustness_icc(manifest, icc_settings, tmp_path / "robustness", show_progress=False)
    assert robust.n_patients == 2 and robust.source == "perturbation"
    assert robust.summary.cached == 2  # the reference features come from extract's cache
    assert robust.summary.computed == 4  # 2 patients x (erode, dilate)
    icc = pd.read_parquet(tmp_path / "robustness" / "icc.parquet")
    assert set(icc["feature"]) == set(features.columns[1:])
    assert (icc["n_patients"] == 2).all() and (icc["n_raters"] == 3).all()
    ratings = pd.read_parquet(tmp_path / "robustness" / "robustness_features.parquet")
    assert set(ratings["patient_id"]) <= set(training)
    volume = ratings.pivot(
        index="patient_id", columns="rater", values="t2w__original_shape_VoxelVolume"
    )
    assert (volume["erode"] < volume["reference"]).all()
    assert (volume["reference"] < volume["dilate"]).all()


def test_failures_raise_after_writing_unless_allowed(tmp_path: Path) -> None:
    manifest = build_cohort(tmp_path / "cohort", n=3)
    write_volume(tmp_path / "cohort" / "P001" / "t2w_mask.nii.gz", np.zeros(SHAPE), (1, 1, 2))
    settings = tmp_path / "extract.yaml"
    settings.write_text(yaml.safe_dump({"params": str(FAST), "execution": IN_PROCESS}))
    with pytest.raises(FailedCasesError, match=r"1 task\(s\) failed .*P001/t2w: mask is empty"):
        extract_features(manifest, settings, tmp_path / "a", show_progress=False)
    kept = pd.read_parquet(tmp_path / "a" / "features.parquet").set_index("patient_id")
    assert kept.loc["P000"].notna().all()
    assert np.isnan(kept.loc["P001", "t2w__original_shape_Sphericity"])
    allowed = {"params": str(FAST), "allow_failures": True, "execution": IN_PROCESS}
    result = extract_features(manifest, allowed, tmp_path / "a", show_progress=False)
    assert result.summary.computed == 0 and len(result.failures) == 1  # the rest was cached


def test_unknown_settings_keys_are_errors(tmp_path: Path) -> None:
    from radiopipe.errors import ConfigError

    manifest = build_cohort(tmp_path / "cohort", n=2)
    with pytest.raises(ConfigError, match="workerz"):
        extract_features(manifest, {"params": str(FAST), "workerz": 2}, tmp_path / "out")


def test_robustness_patient_sample_is_seeded_and_training_only(tmp_path: Path) -> None:
    manifest = build_cohort(tmp_path / "cohort", n=20)  # 12 training patients
    cohort = read_manifest(manifest)
    training = set(cohort.table.loc[cohort.table["split"] == "train", "patient_id"])
    first = robustness_patients(cohort, False, max_patients=5, seed=1).patients
    assert len(first) == 5 and set(first) <= training
    assert first == sorted(first, key=cohort.patients.index)  # manifest order kept
    assert robustness_patients(cohort, False, max_patients=5, seed=1).patients == first
    assert robustness_patients(cohort, False, max_patients=5, seed=2).patients != first
    assert set(robustness_patients(cohort, False, max_patients=50).patients) == training
    assert len(robustness_patients(cohort, True, max_patients=15, seed=0).patients) == 15
