"""run_preprocess on tiny cohorts: registration options, resume keys, per-patient failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radiopipe.cohort.manifest import read_manifest
from radiopipe.config.preprocess import PreprocessSettings
from radiopipe.imaging import geometry_mismatches, read_header, read_image
from radiopipe.preprocess import load_transform
from radiopipe.preprocess.stage import patient_folder_name, run_preprocess
from tests.preprocess.conftest import CET1W_TINY, T2W_TINY, centre_of, cet1w_motion, write_cohort

FAST = {"bias_correction": {"enabled": False}, "resample": {"spacing": [2.0, 2.0, 2.5]}}
REGISTER = {"moving": "cet1w", "fixed": "t2w", "shrink_factors": [2, 1],
            "smoothing_sigmas_mm": [2.0, 0.0]}  # fmt: skip


def _settings(**changes: object) -> PreprocessSettings:
    return PreprocessSettings.model_validate({**FAST, **changes})


def _voxels(path: str | Path) -> np.ndarray:
    return sitk.GetArrayFromImage(read_image(path))


def _volume_mm3(path: str | Path) -> float:
    image = read_image(path)
    return float(sitk.GetArrayFromImage(image).sum() * np.prod(image.GetSpacing()))


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_cohort(tmp_path / "in", [("P1", "A"), ("P2", "B")], T2W_TINY, CET1W_TINY)


def test_resample_moving_puts_both_sequences_on_one_grid(manifest: Path, tmp_path: Path) -> None:
    register = {**REGISTER, "resample_moving": True}
    summary = run_preprocess(read_manifest(manifest), _settings(register=register),
                             tmp_path / "out", show_progress=False)  # fmt: skip
    assert summary.ok and summary.processed == 2
    row = read_manifest(summary.manifest).table.iloc[0]
    t2w, cet1w = read_header(row["image_t2w"]), read_header(row["image_cet1w"])
    assert geometry_mismatches(t2w, cet1w) == []
    # On one grid, the lesion carried to CE-T1W is the T2W lesion, voxel for voxel.
    assert np.array_equal(_voxels(row["mask_t2w"]), _voxels(row["mask_cet1w"]))
    # The saved transform undoes the CE-T1W motion the cohort was built with.
    found = load_transform(Path(row["image_t2w"]).parent / "cet1w_to_t2w.tfm")
    truth = cet1w_motion(0, read_image(manifest.parent / "raw" / "P1_cet1w.nii.gz")).GetInverse()
    lesion = np.array([14.0, -2.0, 8.0]) + centre_of(read_image(row["mask_t2w"]))
    for offset in np.ndindex(3, 3, 3):  # points around the lesion, 20 mm apart
        point = (lesion + 20.0 * (np.array(offset) - 1)).tolist()
        error = np.subtract(found.TransformPoint(point), truth.TransformPoint(point))
        assert np.linalg.norm(error) < 1.5


def test_carried_masks_fill_in_or_replace_own_masks(manifest: Path, tmp_path: Path) -> None:
    table = pd.read_csv(manifest, dtype=str)
    own = np.zeros_like(_voxels(manifest.parent / "raw" / "P1_cet1w.nii.gz"), np.uint8)
    own[6:8, 10:14, 12:16] = 1  # 32 voxels of 2.5 x 2.5 x 5 mm: 1000 mm3
    own_path = manifest.parent / "raw" / "own_mask.nii.gz"
    image = sitk.GetImageFromArray(own)
    image.CopyInformation(read_image(manifest.parent / "raw" / "P1_cet1w.nii.gz"))
    sitk.WriteImage(image, str(own_path))
    table["mask_cet1w"] = ["raw/own_mask.nii.gz", ""]
    table.to_csv(manifest, index=False)

    kept = run_preprocess(read_manifest(manifest), _settings(register=REGISTER),
                          tmp_path / "keep", show_progress=False)  # fmt: skip
    replaced = run_preprocess(
        read_manifest(manifest), _settings(register={**REGISTER, "replace_masks": True}),
        tmp_path / "replace", show_progress=False,
    )  # fmt: skip
    keep_rows = read_manifest(kept.manifest).table
    replace_rows = read_manifest(replaced.manifest).table
    lesion = 4 / 3 * np.pi * 9.0**3  # the T2W lesion, about 3050 mm3
    assert _volume_mm3(keep_rows.loc[0, "mask_cet1w"]) == pytest.approx(1000, rel=0.25)
    assert _volume_mm3(replace_rows.loc[0, "mask_cet1w"]) == pytest.approx(lesion, rel=0.2)
    # P2 had no CE-T1W mask: both runs carried its T2W lesion across.
    for rows in (keep_rows, replace_rows):
        assert _volume_mm3(rows.loc[1, "mask_cet1w"]) == pytest.approx(lesion, rel=0.2)


def test_resume_key_follows_inputs_and_settings(manifest: Path, tmp_path: Path) -> None:
    cohort, out = read_manifest(manifest), tmp_path / "out"
    first = run_preprocess(cohort, _settings(), out, show_progress=False)
    assert (first.processed, first.skipped) == (2, 0)
    again = run_preprocess(cohort, _settings(), out, show_progress=False)
    assert (again.processed, again.skipped) == (0, 2)
    changed = run_preprocess(cohort, _settings(normalise={"method": "percentile"}), out,
                             show_progress=False)  # fmt: skip
    assert (changed.processed, changed.skipped) == (2, 0)
    record = json.loads((out / "patients" / "P1" / "preprocess.json").read_text(encoding="utf-8"))
    assert set(record["inputs"]) == {"image_t2w", "mask_t2w", "image_cet1w"}
    assert record["outputs"]["image_t2w"] == "image_t2w.nii.gz"
    (out / "patients" / "P2" / "image_cet1w.nii.gz").unlink()  # a lost output is rebuilt
    lost = run_preprocess(cohort, _settings(normalise={"method": "percentile"}), out,
                          show_progress=False)  # fmt: skip
    assert (lost.processed, lost.skipped) == (1, 1)
    assert not (out / ".stages").exists(), "the stage marker is the engine's, not the library's"


def test_bad_patients_fail_alone_with_a_clear_reason(manifest: Path, tmp_path: Path) -> None:
    raw = manifest.parent / "raw"
    empty = read_image(raw / "P1_mask_t2w.nii.gz") * 0
    sitk.WriteImage(empty, str(raw / "P1_mask_t2w.nii.gz"))
    elsewhere = read_image(raw / "P2_mask_t2w.nii.gz")
    elsewhere.SetOrigin((500.0, 500.0, 500.0))  # drawn in another coordinate system
    sitk.WriteImage(elsewhere, str(raw / "P2_mask_t2w.nii.gz"))
    summary = run_preprocess(read_manifest(manifest), _settings(), tmp_path / "out",
                             show_progress=False)  # fmt: skip
    failures = {f.patient: f for f in summary.failures}
    assert failures["P1"].sequence == "t2w" and "mask is empty" in failures["P1"].error
    assert failures["P1"].file.endswith("P1_mask_t2w.nii.gz")
    assert "lies outside its image" in failures["P2"].error
    assert pd.read_csv(summary.failures_file)["patient"].tolist() == ["P1", "P2"]
    assert pd.read_csv(summary.manifest).empty


def test_unexpected_errors_are_collected_with_their_traceback(
    manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import radiopipe.preprocess.stage as module

    real = module.preprocess_patient

    def flaky(patient: str, *args: object) -> object:
        if patient == "P2":
            raise ZeroDivisionError("boom")
        return real(patient, *args)

    monkeypatch.setattr(module, "preprocess_patient", flaky)
    out = tmp_path / "out"
    summary = run_preprocess(read_manifest(manifest), _settings(), out, show_progress=False)
    assert summary.processed == 1 and [f.patient for f in summary.failures] == ["P2"]
    assert summary.failures[0].error == "unexpected ZeroDivisionError: boom"
    assert "Traceback" in caplog.text  # the stage engine puts it in the stage's log
    assert read_manifest(summary.manifest).patients == ["P1"]


def test_unsafe_patient_ids_get_safe_unique_folders() -> None:
    assert patient_folder_name("HIFU-001") == "HIFU-001"
    odd = patient_folder_name("A/01 x")
    assert odd.startswith("A_01_x-") and "/" not in odd
    assert patient_folder_name("A 01") != patient_folder_name("A_01")
    assert not patient_folder_name("..").startswith(".")
