"""``radiopipe preprocess`` end to end on a 3-patient cohort: outputs, failures, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from radiopipe.imaging import read_image
from tests.preprocess.conftest import CET1W_SMALL, T2W_SMALL, write_cohort

SETTINGS = {
    "bias_correction": {"iterations": [10, 10]},
    "resample": {"spacing": [1.5, 1.5, 2.0], "interpolator": "bspline"},
    "register": {"moving": "cet1w", "fixed": "t2w", "carry_masks": True},
    "normalise": {"method": "zscore"},
}


@pytest.fixture
def cohort(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "preprocess.yaml"
    config.write_text(yaml.safe_dump(SETTINGS))
    patients = [("P1", "A"), ("P2", "A"), ("P3", "B")]
    return write_cohort(tmp_path, patients, T2W_SMALL, CET1W_SMALL), config


def test_preprocess_cli_end_to_end_with_failure_and_resume(cohort, cli, tmp_path: Path) -> None:
    manifest, config = cohort
    broken = tmp_path / "raw" / "P3_cet1w.nii.gz"
    good_bytes = broken.read_bytes()
    broken.write_bytes(b"\x00not a volume" * 20)
    out = tmp_path / "pre"

    first = cli("preprocess", "--manifest", manifest, "--config", config, "--out", out,
                "--workers", "2")  # fmt: skip
    assert first.exit_code == 1, first.output
    assert "2 processed, 0 skipped (up to date), 1 failed" in first.output
    failures = pd.read_csv(out / "failures.csv", dtype=str)
    assert list(failures.columns) == ["patient", "sequence", "file", "error"]
    assert failures.shape[0] == 1
    row = failures.iloc[0]
    assert (row["patient"], row["sequence"]) == ("P3", "cet1w")
    assert row["file"] == str(broken) and "unreadable volume" in row["error"]

    table = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    assert list(table["patient_id"]) == ["P1", "P2"]
    assert list(table["age"]) == ["40", "41"] and list(table["site"]) == ["A", "A"]
    assert {"image_t2w", "mask_t2w", "image_cet1w", "mask_cet1w"} <= set(table.columns)
    p1 = out / "patients" / "P1"
    assert table.loc[0, "image_t2w"] == "patients/P1/image_t2w.nii.gz"
    assert (p1 / "cet1w_to_t2w.tfm").is_file()
    t2w = read_image(p1 / "image_t2w.nii.gz")
    assert np.allclose(t2w.GetSpacing(), (1.5, 1.5, 2.0))
    values = sitk.GetArrayFromImage(t2w)
    assert abs(values.mean()) < 1.5 and values.dtype == np.float32  # z-scored foreground
    for mask in ("mask_t2w", "mask_cet1w"):  # own mask resampled, lesion carried to CE-T1W
        voxels = sitk.GetArrayFromImage(read_image(p1 / f"{mask}.nii.gz"))
        assert set(np.unique(voxels).tolist()) == {0, 1}
    for name in ("provenance.json", "config.resolved.yaml", "radiopipe.log"):
        assert (out / name).is_file()
    assert cli("validate", out / "manifest.csv").exit_code == 0  # later stages can read it

    stamps = {p: p.stat().st_mtime_ns for p in p1.iterdir()}
    second = cli("preprocess", "--manifest", manifest, "--config", config, "--out", out,
                 "--allow-failures")  # fmt: skip
    assert second.exit_code == 0, second.output
    assert "0 processed, 2 skipped (up to date), 1 failed" in second.output
    assert {p: p.stat().st_mtime_ns for p in p1.iterdir()} == stamps

    broken.write_bytes(good_bytes)  # fix P3; change P1's T2W: both are (re)processed
    image = tmp_path / "raw" / "P1_t2w.nii.gz"
    sitk.WriteImage(sitk.ReadImage(str(image)) * 1.1, str(image))
    third = cli("preprocess", "--manifest", manifest, "--config", config, "--out", out)
    assert third.exit_code == 0, third.output
    assert "2 processed, 1 skipped (up to date), 0 failed" in third.output
    assert pd.read_csv(out / "failures.csv").empty
    assert len(pd.read_csv(out / "manifest.csv")) == 3


def test_preprocess_cli_config_errors(cohort, cli, tmp_path: Path) -> None:
    manifest, config = cohort
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"resample": {"interpolator": "nearest"}}))
    result = cli("preprocess", "--manifest", manifest, "--config", bad, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "resample.interpolator" in result.output and "bspline" in result.output
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({"register": {"moving": "dwi", "fixed": "t2w"}}))
    result = cli("preprocess", "--manifest", manifest, "--config", wrong, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "register.moving" in result.output
    assert "t2w, cet1w" in result.output
    same = cli("preprocess", "--manifest", manifest, "--config", config, "--out", tmp_path)
    assert same.exit_code == 2 and "overwrite the input manifest" in same.output


def test_preprocess_cli_refuses_duplicate_patients(cohort, cli, tmp_path: Path) -> None:
    manifest, config = cohort
    table = pd.read_csv(manifest, dtype=str)
    table.loc[2, "patient_id"] = "P1"
    table.to_csv(manifest, index=False)
    result = cli("preprocess", "--manifest", manifest, "--config", config, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "duplicate patient ID(s) in the manifest: P1" in result.output
    assert not (tmp_path / "o" / "patients").exists()
