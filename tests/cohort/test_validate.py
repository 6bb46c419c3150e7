"""Each bad input of `radiopipe validate` is found, named, and all are reported at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radiopipe.cohort import read_manifest
from radiopipe.cohort.validate import validate_cohort
from tests.cohort.conftest import SHAPE, SPACING
from tests.conftest import sphere_mask, write_volume


def problems_of(cohort_dir: Path, **kwargs) -> list:
    return validate_cohort(read_manifest(cohort_dir / "manifest.csv"), **kwargs)


def edit_manifest(cohort_dir: Path, edit) -> None:
    path = cohort_dir / "manifest.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(table)
    table.to_csv(path, index=False)


def only(problems: list, fragment: str):
    found = [p for p in problems if fragment in p.problem]
    assert len(found) == 1, f"expected one problem with {fragment!r}, got {problems}"
    return found[0]


def test_clean_cohort_has_no_problems(cohort_dir: Path) -> None:
    assert problems_of(cohort_dir) == []


def test_missing_file(cohort_dir: Path) -> None:
    (cohort_dir / "images" / "A-001_t2w.nii.gz").unlink()
    p = only(problems_of(cohort_dir), "does not exist")
    assert p.patient_id == "A-001" and p.file.endswith("A-001_t2w.nii.gz")


def test_unreadable_file(cohort_dir: Path) -> None:
    (cohort_dir / "images" / "A-002_cet1w.nii.gz").write_bytes(b"not a nifti volume" * 20)
    p = only(problems_of(cohort_dir), "unreadable")
    assert p.patient_id == "A-002" and p.file.endswith("A-002_cet1w.nii.gz")


def test_duplicate_ids_bad_labels_splits(cohort_dir: Path) -> None:
    def edit(t: pd.DataFrame) -> None:
        t.loc[1, "patient_id"] = "A-000"
        t.loc[2, "label"] = "2"
        t.loc[3, "label"] = ""
        t.loc[4, "split"] = "validation"

    edit_manifest(cohort_dir, edit)
    problems = problems_of(cohort_dir)
    assert only(problems, "duplicate patient_id").patient_id == "A-000"
    assert only(problems, "label is '2'").patient_id == "A-002"
    assert only(problems, "label is missing").patient_id == "B-003"
    bad_split = only(problems, "unknown split")
    assert bad_split.patient_id == "B-004" and "internal_test" in bad_split.problem
    assert all(p.file.endswith("manifest.csv") for p in problems)


def test_unlabelled_cohort_allowed_when_asked(cohort_dir: Path) -> None:
    edit_manifest(cohort_dir, lambda t: t.__setitem__("label", ""))
    assert problems_of(cohort_dir, require_labels=False) == []
    assert len(problems_of(cohort_dir)) == 5


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"spacing": (0.8, 0.8, 5.0)}, "spacing"),
        ({"origin": (0.0, 3.0, 0.0)}, "origin"),
        ({"shape": (8, 16, 18)}, "size"),
        ({"direction": (0, 1, 0, 1, 0, 0, 0, 0, 1)}, "direction"),
    ],
)
def test_mask_geometry_mismatch(cohort_dir: Path, change: dict, expected: str) -> None:
    shape = change.get("shape", SHAPE)
    image = sitk.GetImageFromArray(sphere_mask(shape, 3))
    image.SetSpacing(change.get("spacing", SPACING["t2w"]))
    image.SetOrigin(change.get("origin", (0.0, 0.0, 0.0)))
    image.SetDirection(change.get("direction", (1, 0, 0, 0, 1, 0, 0, 0, 1)))
    sitk.WriteImage(image, str(cohort_dir / "masks" / "A-001_t2w.nii.gz"))
    p = only(problems_of(cohort_dir), "grids disagree")
    assert p.patient_id == "A-001" and expected in p.problem


def test_empty_mask_and_unexpected_labels(cohort_dir: Path) -> None:
    empty = np.zeros(SHAPE, np.uint8)
    write_volume(cohort_dir / "masks" / "A-001_t2w.nii.gz", empty, SPACING["t2w"])
    two = sphere_mask(SHAPE, 3) * 2
    two[0, 0, 0] = 1
    write_volume(cohort_dir / "masks" / "A-002_t2w.nii.gz", two, SPACING["t2w"])
    problems = problems_of(cohort_dir)
    assert only(problems, "mask is empty").patient_id == "A-001"
    unexpected = only(problems, "unexpected label")
    assert unexpected.patient_id == "A-002" and "value(s) 2" in unexpected.problem
    assert problems_of(cohort_dir, mask_labels=(0, 1, 2)) == [only(problems, "mask is empty")]


def test_headers_only_skips_voxel_checks(cohort_dir: Path) -> None:
    write_volume(
        cohort_dir / "masks" / "A-001_t2w.nii.gz", np.zeros(SHAPE, np.uint8), SPACING["t2w"]
    )
    assert problems_of(cohort_dir, read_masks=False) == []


def test_non_3d_volume(cohort_dir: Path) -> None:
    flat = sitk.GetImageFromArray(np.ones((16, 16), np.int16))
    sitk.WriteImage(flat, str(cohort_dir / "images" / "A-001_cet1w.nii.gz"))
    p = only(problems_of(cohort_dir), "2-D")
    assert p.patient_id == "A-001" and p.file.endswith("A-001_cet1w.nii.gz")


def test_single_slice_volume(cohort_dir: Path) -> None:
    write_volume(cohort_dir / "images" / "A-001_cet1w.nii.gz", np.ones((1, 16, 16), np.int16))
    assert only(problems_of(cohort_dir), "not a 3-D volume").patient_id == "A-001"


def test_nan_and_inf_voxels(cohort_dir: Path) -> None:
    data = np.full(SHAPE, 100.0, np.float32)
    data[0, 0, :3] = np.nan
    data[1, 1, 1] = np.inf
    write_volume(cohort_dir / "images" / "A-002_t2w.nii.gz", data, SPACING["t2w"])
    p = only(problems_of(cohort_dir), "NaN")
    assert p.patient_id == "A-002" and "3 NaN and 1 infinite" in p.problem


def test_site_with_one_patient(cohort_dir: Path) -> None:
    edit_manifest(cohort_dir, lambda t: t.__setitem__("site", ["A", "A", "A", "B", "C"]))
    problems = problems_of(cohort_dir)
    assert sorted(p.patient_id for p in problems) == ["B-003", "B-004"]
    assert all("has 1 patient" in p.problem for p in problems)


def test_second_masks_are_checked_too(cohort_dir: Path) -> None:
    def edit(t: pd.DataFrame) -> None:
        t["mask2_t2w"] = t["mask_t2w"]
        t.loc[0, "mask2_t2w"] = "masks/missing.nii.gz"

    edit_manifest(cohort_dir, edit)
    p = only(problems_of(cohort_dir), "does not exist")
    assert p.patient_id == "A-000" and p.file.endswith("missing.nii.gz")


def test_many_problems_reported_together(cohort_dir: Path) -> None:
    (cohort_dir / "images" / "A-001_t2w.nii.gz").unlink()
    (cohort_dir / "images" / "A-002_t2w.nii.gz").write_bytes(b"garbage" * 50)
    edit_manifest(
        cohort_dir,
        lambda t: t.__setitem__("patient_id", ["A-000"] * 2 + ["A-002", "B-003", "B-004"]),
    )
    problems = problems_of(cohort_dir)
    kinds = {"does not exist", "unreadable", "duplicate patient_id"}
    assert all(any(k in p.problem for p in problems) for k in kinds)
