from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radiopipe.cohort import read_manifest, write_manifest
from radiopipe.cohort.manifest import labels
from radiopipe.errors import ManifestError


def test_paths_resolve_against_manifest_folder(cohort_dir: Path) -> None:
    cohort = read_manifest(cohort_dir / "manifest.csv")
    assert cohort.sequences == ("t2w", "cet1w")
    path = cohort.image_path("A-000", "t2w")
    assert path.is_absolute() and path == cohort_dir / "images" / "A-000_t2w.nii.gz"
    assert cohort.mask_path("A-000", "cet1w") == cohort_dir / "masks" / "A-000_cet1w.nii.gz"
    assert cohort.mask_path("A-000", "t2w", second=True) is None
    assert cohort.covariates == ["age"]
    assert len(cohort.sha256) == 64


def test_subset_and_labels(cohort_dir: Path) -> None:
    cohort = read_manifest(cohort_dir / "manifest.csv")
    external = cohort.subset(split="external_test")
    assert external.patients == ["B-003", "B-004"]
    assert labels(cohort).tolist() == [0, 1, 0, 1, 0]


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    pd.DataFrame({"patient_id": ["p1"], "label": ["1"], "image_t2w": ["x.nii.gz"]}).to_csv(path)
    with pytest.raises(ManifestError, match="site, split"):
        read_manifest(path)


def test_missing_manifest_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "nope.csv")


def test_requested_sequence_must_have_a_column(cohort_dir: Path) -> None:
    with pytest.raises(ManifestError, match="image_dwi"):
        read_manifest(cohort_dir / "manifest.csv", sequences=("t2w", "dwi"))


def test_write_manifest_round_trip_relative(cohort_dir: Path, tmp_path: Path) -> None:
    cohort = read_manifest(cohort_dir / "manifest.csv")
    out = cohort_dir / "copy" / "manifest.csv"
    write_manifest(cohort, out)
    raw = pd.read_csv(out, dtype=str)
    assert raw.loc[0, "image_t2w"] == "../images/A-000_t2w.nii.gz"
    again = read_manifest(out)
    assert again.image_path("A-000", "t2w") == cohort.image_path("A-000", "t2w")
