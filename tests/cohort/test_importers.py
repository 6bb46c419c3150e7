from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radiopipe.cohort import read_manifest, write_manifest
from radiopipe.cohort.importers import guess_sequence, import_folders, import_nnunet
from radiopipe.cohort.validate import validate_cohort
from radiopipe.errors import ManifestError
from radiopipe.imaging import geometry_mismatches, header_of, read_header, read_image
from tests.conftest import sphere_mask, write_volume

SHAPE = (6, 12, 12)


def clinical_csv(path: Path, ids: list[str]) -> Path:
    pd.DataFrame(
        {
            "patient_id": ids,
            "site": ["A", "A", "B", "B"][: len(ids)],
            "label": ["1", "0", "1", "0"][: len(ids)],
            "split": ["train", "train", "external_test", "external_test"][: len(ids)],
            "age": ["40", "35", "51", "44"][: len(ids)],
        }
    ).to_csv(path, index=False)
    return path


def nnunet_dataset(root: Path, cases: list[str]) -> Path:
    spec = {
        "channel_names": {"0": "T2", "1": "CE-T1"},
        "labels": {"background": 0, "fibroid": 1},
        "numTraining": len(cases),
        "file_ending": ".nii.gz",
    }
    root.mkdir(parents=True)
    (root / "dataset.json").write_text(json.dumps(spec))
    for case in cases:
        for channel in (0, 1):
            write_volume(
                root / "imagesTr" / f"{case}_{channel:04d}.nii.gz", np.ones(SHAPE, np.int16)
            )
        write_volume(root / "labelsTr" / f"{case}.nii.gz", sphere_mask(SHAPE, 2))
    return root


def test_guess_sequence() -> None:
    assert guess_sequence("T2") == "t2w"
    assert guess_sequence("T2W_TSE") == "t2w"
    assert guess_sequence("CE-T1") == "cet1w"
    assert guess_sequence("T1 post Gd") == "cet1w"
    assert guess_sequence("T1") == "t1w"


def test_import_nnunet_builds_valid_manifest(tmp_path: Path) -> None:
    cases = ["case_001", "case_002", "case_003", "case_004"]
    root = nnunet_dataset(tmp_path / "Dataset501_Fibroid", cases)
    table = import_nnunet(root, clinical_csv(tmp_path / "clinical.csv", cases))
    assert list(table.columns[:4]) == ["patient_id", "site", "split", "label"]
    assert {"image_t2w", "image_cet1w", "mask_t2w", "mask_cet1w", "age"} <= set(table.columns)
    assert table.loc[0, "image_cet1w"].endswith("case_001_0001.nii.gz")
    assert table.loc[0, "mask_t2w"] == table.loc[0, "mask_cet1w"]
    out = tmp_path / "manifest.csv"
    write_manifest(table, out)
    assert validate_cohort(read_manifest(out)) == []


def test_import_nnunet_missing_channel_and_clinical_rows(tmp_path: Path) -> None:
    cases = ["c1", "c2", "c3"]
    root = nnunet_dataset(tmp_path / "ds", cases)
    (root / "imagesTr" / "c2_0001.nii.gz").unlink()
    with pytest.raises(ManifestError, match=r"case c2: channel 1 \(cet1w\) missing"):
        import_nnunet(root, clinical_csv(tmp_path / "clinical.csv", cases))
    write_volume(root / "imagesTr" / "c2_0001.nii.gz", np.ones(SHAPE, np.int16))
    with pytest.raises(ManifestError, match="patient c3: has images but no row"):
        import_nnunet(root, clinical_csv(tmp_path / "clinical.csv", ["c1", "c2"]))


def test_import_nnunet_explicit_channels(tmp_path: Path) -> None:
    cases = ["c1", "c2"]
    root = nnunet_dataset(tmp_path / "ds", cases)
    table = import_nnunet(
        root, clinical_csv(tmp_path / "c.csv", cases), channels={0: "t2", 1: "ce"}
    )
    assert {"image_t2", "image_ce", "mask_t2", "mask_ce"} <= set(table.columns)


def write_dicom_series(folder: Path, array: np.ndarray, spacing=(0.7, 0.7, 5.0)) -> None:
    """A minimal CT-less MR DICOM series, one file per slice."""
    folder.mkdir(parents=True)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    uid = "1.2.826.0.1.3680043.2.1125.1.123456789"
    for z in range(array.shape[0]):
        piece = image[:, :, z]
        position = image.TransformIndexToPhysicalPoint((0, 0, z))
        for tag, value in {
            "0008|0060": "MR",
            "0020|000e": uid,
            "0020|000d": uid + ".1",
            "0020|0032": "\\".join(map(str, position)),
            "0020|0037": "1\\0\\0\\0\\1\\0",
            "0020|0013": str(z + 1),
            "0018|0050": str(spacing[2]),
            "0028|0030": f"{spacing[1]}\\{spacing[0]}",
        }.items():
            piece.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice{z:03d}.dcm"))
        writer.Execute(piece)


def test_import_folders_with_nifti_and_dicom(tmp_path: Path) -> None:
    root = tmp_path / "patients"
    ids = ["P1", "P2"]
    for pid in ids:
        write_volume(root / pid / "t2w.nii.gz", np.ones(SHAPE, np.int16), (0.7, 0.7, 5.0))
        write_volume(root / pid / "mask_t2w.nii.gz", sphere_mask(SHAPE, 2), (0.7, 0.7, 5.0))
        write_dicom_series(root / pid / "cet1w", np.full(SHAPE, 7, np.int16))
    table = import_folders(root, clinical_csv(tmp_path / "c.csv", ids))
    assert table.loc[0, "image_cet1w"].endswith("P1/cet1w")
    assert table.loc[0, "mask_t2w"].endswith("mask_t2w.nii.gz")
    assert table.loc[0, "mask_cet1w"] == ""
    manifest = tmp_path / "manifest.csv"
    write_manifest(table, manifest)
    cohort = read_manifest(manifest)
    assert validate_cohort(cohort) == []
    header = read_header(cohort.image_path("P1", "cet1w"))
    assert header.size == (12, 12, 6)
    assert header.spacing == pytest.approx((0.7, 0.7, 5.0))
    series = read_image(cohort.image_path("P2", "cet1w"))
    assert geometry_mismatches(header, header_of(series)) == []
    voxels = sitk.GetArrayFromImage(series)
    assert voxels.shape == SHAPE and (voxels == 7).all()


def test_import_folders_reports_ambiguous_and_missing(tmp_path: Path) -> None:
    root = tmp_path / "patients"
    write_volume(root / "P1" / "t2w.nii.gz", np.ones(SHAPE, np.int16))
    write_volume(root / "P1" / "t2w_old.nii.gz", np.ones(SHAPE, np.int16))
    write_volume(root / "P1" / "cet1w.nrrd", np.ones(SHAPE, np.int16))
    write_volume(root / "P2" / "t2w.mha", np.ones(SHAPE, np.int16))
    with pytest.raises(ManifestError) as err:
        import_folders(root, clinical_csv(tmp_path / "c.csv", ["P1", "P2"]))
    text = str(err.value)
    assert "patient P1: 2 t2w volumes match 't2w*'" in text
    assert "patient P2: no cet1w volume matches 'cet1w*'" in text
