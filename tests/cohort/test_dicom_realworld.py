"""Real-world DICOM shipped with pydicom (offline): nested exports, irregular series, geometry."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from radiopipe.cohort.dicom.geometry import check_geometry
from radiopipe.cohort.dicom.importer import plan_import
from radiopipe.cohort.dicom.scan import Frame, scan_export
from radiopipe.cohort.dicom.volume import read_series
from radiopipe.config.core import parse_config
from radiopipe.config.dicom import DicomRules


@pytest.fixture(scope="module")
def dicomdir_tests() -> Path:
    """pydicom's dicomdirtests: two patients, CT/CR/MR series, files without extension."""
    folder = Path(pydicom.data.__file__).parent / "test_files" / "dicomdirtests"
    if not folder.is_dir():
        pytest.skip("pydicom's dicomdirtests folder is not installed")
    return folder


def test_scan_groups_a_real_export_and_ignores_non_images(dicomdir_tests: Path) -> None:
    export = scan_export(dicomdir_tests)
    assert {"77654033", "98890234"} <= set(export.series)  # PatientID, not folder names
    descriptions = {s.description for s in export.series["98890234"]}
    assert {"FAST LOCALIZER", "T/S/C RF FAST PILOT"} <= descriptions
    assert export.skipped >= 5  # the DICOMDIR files


def test_real_irregular_series_are_reported_by_description(dicomdir_tests: Path) -> None:
    rules = parse_config(
        {
            "sequences": {
                "pilot": {"description": ["(?i)pilot"], "prefer": "latest"},
                "brain": {"description": ["(?i)routine brain"], "modality": "CT"},
                "score": {"description": ["(?i)smartscore"], "modality": "CT"},
            }
        },
        DicomRules,
    )
    problems = " | ".join(plan_import(dicomdir_tests, rules).problems)
    assert "'T/S/C RF FAST PILOT' (series 2, " in problems and "mixed orientations" in problems
    assert "'Routine Brain' (series 2, " in problems and "161 missing slice(s)" in problems
    assert "Doe" not in problems  # names never appear, only the patient id
    # The SmartScore CT is a regular 5-slice volume: no problem names it.
    assert "SmartScore" not in problems.split("no series matches")[0]


def test_real_ct_series_converts_with_its_geometry(dicomdir_tests: Path) -> None:
    export = scan_export(dicomdir_tests)
    series = next(s for s in export.series["98890234"] if "SmartScore" in s.description)
    geometry = check_geometry(series.frames)
    assert geometry.problems == [] and geometry.spacing_problems == []
    image = read_series(series, geometry)
    assert image.GetSize()[2] == 5
    assert image.GetSpacing()[2] == pytest.approx(2.5, abs=1e-4)
    first = pydicom.dcmread(geometry.frames[0].path)
    assert np.allclose(image.GetOrigin(), [float(v) for v in first.ImagePositionPatient], atol=1e-3)


def test_single_mr_file_reads_like_pydicom(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "IMG0001"
    path.parent.mkdir()
    shutil.copyfile(get_testdata_file("MR_small.dcm"), path)
    series = scan_export(tmp_path).series
    info = next(s for items in series.values() for s in items if path in s.files)
    geometry = check_geometry(info.frames)
    image = read_series(info, geometry)
    expected = pydicom.dcmread(path).pixel_array
    import SimpleITK as sitk

    assert np.array_equal(sitk.GetArrayFromImage(image)[0], expected)


def _frames(z: list[float], shear: float = 0.0) -> list[Frame]:
    return [
        Frame(Path(f"f{i}"), 0, (shear * i, 0.0, v), (1, 0, 0, 0, 1, 0), (1.0, 1.0), 4, 4, i)
        for i, v in enumerate(z)
    ]


def test_geometry_checks_order_gaps_spacing_and_tilt() -> None:
    regular = check_geometry(_frames([6.0, 0.0, 3.0, 9.0]))
    assert regular.problems == [] and regular.spacing_problems == []
    assert list(regular.positions) == [0.0, 3.0, 6.0, 9.0] and regular.step_mm == 3.0
    gap = check_geometry(_frames([0.0, 3.0, 6.0, 15.0, 18.0]))
    assert gap.spacing_problems and "2 missing slice(s)" in gap.spacing_problems[0]
    uneven = check_geometry(_frames([0.0, 3.0, 6.0, 7.5, 10.5]))
    assert "non-uniform slice spacing" in uneven.spacing_problems[0]
    tilted = check_geometry(_frames([0.0, 3.0, 6.0], shear=0.5))
    assert "gantry tilt" in tilted.problems[0]
    repeated = check_geometry(_frames([0.0, 3.0, 3.0]))
    assert "repeat a position" in repeated.problems[0]


def test_example_manifest_in_docs_reads() -> None:
    from radiopipe.cohort.manifest import read_manifest

    cohort = read_manifest(Path(__file__).parents[2] / "docs" / "manifest_example.csv")
    assert cohort.sequences == ("t2w", "cet1w")
    assert len(cohort.acquisition_columns) == 14
    assert cohort.covariates == [
        "age",
        "fat_thickness_mm",
        "funaki_type",
        "enhancement_grade",
        "lesion_diameter_mm",
    ]
    assert set(cohort.table["split"]) == {"train", "internal_test", "external_test", ""}
