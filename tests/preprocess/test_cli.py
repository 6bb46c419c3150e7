"""``radiopipe preprocess`` end to end on a 3-patient cohort: outputs, failures, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from radiopipe.imaging import read_image
from tests.preprocess.conftest import centre_of, pelvis, sphere

T2W = ((0.8, 0.8, 5.0), (16, 80, 100))  # spacing (x, y, z), shape (z, y, x)
CET1W = ((1.0, 1.0, 4.0), (20, 64, 80))

SETTINGS = {
    "bias_correction": {"iterations": [10, 10]},
    "resample": {"spacing": [1.5, 1.5, 2.0], "interpolator": "bspline"},
    "register": {"moving": "cet1w", "fixed": "t2w", "carry_masks": True},
    "normalise": {"method": "zscore"},
}


def _volumes(index: int) -> tuple[sitk.Image, sitk.Image, sitk.Image]:
    """T2W image and lesion mask, and a CE-T1W image of the same anatomy, slightly moved."""
    spacing, shape = T2W
    t2w, _ = pelvis(shape, spacing, seed=index)
    lesion = sitk.GetImageFromArray(sphere(shape, spacing, 9.0, (14.0, -2.0, 8.0)))
    lesion.CopyInformation(t2w)
    spacing, shape = CET1W  # a different grid around the same centre
    grid = sitk.Image([shape[2], shape[1], shape[0]], sitk.sitkFloat32)
    grid.SetSpacing(spacing)
    half_extent = np.multiply(spacing, [(n - 1) / 2 for n in grid.GetSize()])
    grid.SetOrigin((centre_of(t2w) - half_extent).tolist())
    motion = sitk.Euler3DTransform()
    motion.SetCenter(grid.TransformContinuousIndexToPhysicalPoint([0, 0, 0]))
    motion.SetRotation(0.0, 0.0, np.deg2rad(3.0 + index))
    motion.SetTranslation((2.0, -1.5, 1.0))
    cet1w = sitk.Resample(t2w, grid, motion, sitk.sitkLinear, 10.0, sitk.sitkFloat32)
    return t2w, lesion, sitk.Cast(400.0 - cet1w, sitk.sitkFloat32)


def _cohort(root: Path) -> Path:
    rows = []
    for index, (pid, site) in enumerate([("P1", "A"), ("P2", "A"), ("P3", "B")]):
        t2w, lesion, cet1w = _volumes(index)
        for name, image in (("t2w", t2w), ("mask_t2w", lesion), ("cet1w", cet1w)):
            sitk.WriteImage(image, str(root / "raw" / f"{pid}_{name}.nii.gz"))
        rows.append({
            "patient_id": pid, "site": site, "split": "train", "label": index % 2,
            "age": 40 + index, "image_t2w": f"raw/{pid}_t2w.nii.gz",
            "mask_t2w": f"raw/{pid}_mask_t2w.nii.gz", "image_cet1w": f"raw/{pid}_cet1w.nii.gz",
        })  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


@pytest.fixture
def cohort(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "raw").mkdir()
    config = tmp_path / "preprocess.yaml"
    config.write_text(yaml.safe_dump(SETTINGS))
    return _cohort(tmp_path), config


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
