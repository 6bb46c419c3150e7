from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radiopipe.errors import InputError
from radiopipe.imaging import (
    file_sha256,
    geometry_mismatches,
    header_of,
    nonfinite_counts,
    read_header,
    read_image,
    write_image,
)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_formats_round_trip_with_geometry(tmp_path: Path, suffix: str) -> None:
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.7, 0.8, 5.0))
    image.SetOrigin((-10.0, 20.0, 3.5))
    path = write_image(image, tmp_path / f"vol{suffix}")
    header = read_header(path)
    assert header.size == (6, 5, 4) and header.dimension == 3 and not header.is_float
    assert geometry_mismatches(header, header_of(image)) == []
    assert np.array_equal(sitk.GetArrayFromImage(read_image(path)), array)
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_write_image_is_atomic_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "vol.nii.gz"
    target.write_bytes(b"previous content")
    with pytest.raises(ValueError, match="unsupported volume suffix"):
        write_image(sitk.Image(2, 2, 2, sitk.sitkUInt8), tmp_path / "vol.png")
    assert target.read_bytes() == b"previous content"


def test_read_errors_name_patient_and_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_image(tmp_path / "missing.nii.gz", patient="P7")
    assert err.value.patient == "P7" and "missing.nii.gz" in str(err.value)
    bad = tmp_path / "bad.nrrd"
    bad.write_text("NRRD0004\ngarbage")
    with pytest.raises(InputError, match=r"patient P8, file .*bad\.nrrd: unreadable"):
        read_header(bad, patient="P8")


def test_nonfinite_counts_sees_what_simpleitk_hides(tmp_path: Path) -> None:
    data = np.ones((3, 4, 5), np.float32)
    data[0, 0, 0] = np.nan
    data[1, 1, 1] = -np.inf
    for suffix in (".nii.gz", ".nrrd"):
        path = write_image(sitk.GetImageFromArray(data), tmp_path / f"f{suffix}")
        assert nonfinite_counts(path) == (1, 1)


def test_sha256_changes_with_content(tmp_path: Path) -> None:
    a = tmp_path / "a.bin"
    a.write_bytes(b"one")
    first = file_sha256(a)
    a.write_bytes(b"two")
    assert file_sha256(a) != first
    folder = tmp_path / "series"
    folder.mkdir()
    (folder / "s1.dcm").write_bytes(b"x")
    digest = file_sha256(folder)
    (folder / "s2.dcm").write_bytes(b"y")
    assert file_sha256(folder) != digest


def test_geometry_mismatch_descriptions() -> None:
    a = sitk.Image(4, 4, 4, sitk.sitkUInt8)
    b = sitk.Image(4, 4, 5, sitk.sitkUInt8)
    b.SetSpacing((1.0, 1.0, 2.0))
    b.SetOrigin((0.0, 0.0, 0.5))
    problems = geometry_mismatches(header_of(a), header_of(b))
    assert [p.split()[0] for p in problems] == ["size", "spacing", "origin"]
