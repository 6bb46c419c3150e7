"""Robustness stage: ICC(2,1) from second masks or perturbed masks, training patients only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiopipe.atomic import read_parquet_metadata
from radiopipe.cohort.manifest import read_manifest
from radiopipe.config.extraction import PerturbationSettings
from radiopipe.errors import ManifestError
from radiopipe.features.executor import ExecutorOptions
from radiopipe.features.extract import extract_cohort
from radiopipe.features.naming import parse_column
from radiopipe.features.params import load_params
from radiopipe.features.robustness import compute_robustness
from tests.features.conftest import FAST, build_cohort

IN_PROCESS = ExecutorOptions(workers=0)
ICC_COLUMNS = ["feature", "icc", "ci95_low", "ci95_high", "n_patients", "source"]


def robustness(manifest: Path, out: Path, **kwargs):
    return compute_robustness(
        read_manifest(manifest), load_params(FAST), out, IN_PROCESS, show_progress=False, **kwargs
    )


def test_perturbation_mode_uses_training_patients_and_writes_icc(tmp_path: Path) -> None:
    manifest = build_cohort(tmp_path / "cohort", n=5)  # P003, P004 are test patients
    settings = PerturbationSettings(contour_repeats=1, seed=1)
    result = robustness(manifest, tmp_path / "out", perturbation=settings)
    assert result.source == "perturbation" and result.n_patients == 3
    icc = pd.read_parquet(tmp_path / "out" / "icc.parquet")
    assert [c for c in icc.columns if c in ICC_COLUMNS] == ICC_COLUMNS
    assert (icc["source"] == "perturbation").all()
    assert icc["icc"].dtype == np.float64 and (icc["n_patients"] == 3).all()
    assert (icc["n_raters"] == 4).all()  # reference, erode, dilate, contour1
    for name in icc["feature"]:
        parse_column(name)  # full features-table column names
    finite = icc.dropna(subset=["icc"])
    assert len(finite) > 0.9 * len(icc)
    clear = finite[finite["icc"] > 0.2]  # McGraw-Wong intervals misbehave near ICC 0
    assert (clear["ci95_low"] <= clear["icc"]).all() and (clear["icc"] <= clear["ci95_high"]).all()
    assert icc["icc"].max() <= 1.0
    ratings = pd.read_parquet(tmp_path / "out" / "robustness_features.parquet")
    assert set(ratings["patient_id"]) == {"P000", "P001", "P002"}
    assert set(ratings["rater"]) == {"reference", "erode", "dilate", "contour1"}
    volume = ratings.set_index(["patient_id", "rater"])["t2w__original_shape_VoxelVolume"]
    assert volume["P001", "erode"] < volume["P001", "reference"] < volume["P001", "dilate"]
    meta = read_parquet_metadata(tmp_path / "out" / "icc.parquet")
    assert meta["source"] == "perturbation" and meta["settings_sha256"] == load_params(FAST).sha256


def test_reference_features_are_shared_with_extract_through_the_cache(tmp_path: Path) -> None:
    manifest = build_cohort(tmp_path / "cohort", n=3)
    extract_cohort(
        read_manifest(manifest),
        load_params(FAST),
        tmp_path / "run",
        IN_PROCESS,
        show_progress=False,
    )
    settings = PerturbationSettings(contour_repeats=0)
    first = robustness(manifest, tmp_path / "run", perturbation=settings)
    assert first.summary.cached == 6  # 3 training patients x 2 sequences, from extract
    assert first.summary.computed == 12  # erode and dilate masks
    again = robustness(manifest, tmp_path / "run", perturbation=settings)
    assert again.summary.computed == 0
    pd.testing.assert_frame_equal(first.icc, again.icc)


def test_second_mask_mode(tmp_path: Path) -> None:
    manifest = build_cohort(tmp_path / "cohort", n=5, second_masks=True)
    result = robustness(manifest, tmp_path / "out", include_test=True)
    assert result.source == "second_mask" and result.n_patients == 5
    assert (result.icc["n_raters"] == 2).all() and (result.icc["source"] == "second_mask").all()
    shape = result.icc.set_index("feature").loc["t2w__original_shape_VoxelVolume"]
    assert 0.5 < shape["icc"] < 1.0  # the second reader draws a slightly larger sphere


def test_identical_second_masks_agree_perfectly(tmp_path: Path) -> None:
    manifest = build_cohort(tmp_path / "cohort", n=4)
    table = pd.read_csv(manifest)
    for seq in ("t2w", "cet1w"):
        table[f"mask2_{seq}"] = table[f"mask_{seq}"]
    table.to_csv(manifest, index=False)
    result = robustness(manifest, tmp_path / "out", include_test=True, sequences=["t2w"])
    finite = result.icc.dropna(subset=["icc"])
    assert len(finite) > 0.9 * len(result.icc)
    np.testing.assert_allclose(finite["icc"], 1.0, atol=1e-9)


def test_asking_for_second_masks_without_them_is_an_error(tmp_path: Path) -> None:
    manifest = build_cohort(tmp_path / "cohort", n=3)
    with pytest.raises(ManifestError, match="mask2_t2w"):
        robustness(manifest, tmp_path / "out", source="second_mask")


def test_cli(tmp_path: Path, cli) -> None:
    manifest = build_cohort(tmp_path / "cohort", n=3, second_masks=True)
    result = cli(
        "robustness", "--manifest", manifest, "--config", FAST, "--out", tmp_path / "out",
        "--workers", 0, "--sequences", "t2w", "--max-patients", 2,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ICC(2,1)" in result.output and "second_mask, 2 patients" in result.output
    assert (tmp_path / "out" / "icc.parquet").is_file()
    record = json.loads((tmp_path / "out" / "provenance.json").read_text(encoding="utf-8"))
    assert record["command"] == "robustness"


def test_variant_values_equal_a_direct_pyradiomics_run_on_each_mask(tmp_path: Path) -> None:
    """The masks of one image run as a group (image read, normalised once); each variant's
    values still equal pyradiomics' own run on that mask."""
    import logging

    import radiomics
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    manifest = build_cohort(tmp_path / "cohort", n=2)
    settings = PerturbationSettings(contour_repeats=1, seed=2)
    result = robustness(manifest, tmp_path / "out", perturbation=settings)
    ratings = result.ratings.set_index(["patient_id", "rater"])
    radiomics.setVerbosity(logging.ERROR)
    extractor = RadiomicsFeatureExtractor(str(FAST))
    cohort = read_manifest(manifest)
    image = cohort.table.set_index("patient_id").loc["P001", "image_t2w"]
    masks = sorted((tmp_path / "out" / "robustness_masks" / "P001").glob("t2w_*.nii.gz"))
    assert len(masks) == 3  # erode, dilate, contour1
    for mask in masks:
        variant = mask.name.split("_")[1]
        expected = {
            f"t2w__{k}": float(np.real(v))
            for k, v in extractor.execute(str(image), str(mask)).items()
            if not k.startswith("diagnostics_")
        }
        actual = ratings.loc[("P001", variant), list(expected)].to_numpy(dtype=float)
        np.testing.assert_allclose(actual, list(expected.values()), rtol=1e-9, atol=0)
