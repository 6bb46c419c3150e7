"""Training patients, the seeded division, case loading, and the MONAI preprocessing chain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import torch

from radiopipe.cohort import read_manifest
from radiopipe.config import parse_config
from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.errors import InputError, RadiopipeError
from radiopipe.segment.data import LoadCased, case_records, divide, training_patients
from radiopipe.segment.geometry import resample_onto, to_metatensor, to_sitk
from radiopipe.segment.infer import dice
from radiopipe.segment.transforms import augmentation, preprocessing


def test_only_train_split_patients_with_masks_are_used(phantom_cohort) -> None:
    manifest = phantom_cohort(train=4, internal_test=2, external_test=2)
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    table.loc[1, "mask_cet1w"] = ""
    table.loc[len(table)] = {**table.loc[0].to_dict(), "patient_id": "U1", "split": ""}
    table.to_csv(manifest, index=False)
    cohort = read_manifest(manifest)
    assert training_patients(cohort, ["t2w"], ["t2w"]) == ["P000", "P001", "P002", "P003"]
    assert training_patients(cohort, ["t2w", "cet1w"], ["cet1w"]) == ["P000", "P002", "P003"]


def test_no_training_split_is_a_clear_error(phantom_cohort) -> None:
    cohort = read_manifest(phantom_cohort(internal_test=3))
    with pytest.raises(RadiopipeError, match="no patient has split 'train'"):
        training_patients(cohort, ["t2w"], ["t2w"])


def test_missing_mask_column_is_a_clear_error(phantom_cohort) -> None:
    manifest = phantom_cohort(train=3)
    pd.read_csv(manifest).drop(columns=["mask_t2w"]).to_csv(manifest, index=False)
    with pytest.raises(RadiopipeError, match="mask_t2w"):
        training_patients(read_manifest(manifest), ["t2w"], ["t2w"])


def test_division_is_seeded_disjoint_and_complete() -> None:
    patients = [f"P{i:02d}" for i in range(20)]
    first = divide(patients, 0.2, seed=3)
    assert first == divide(list(reversed(patients)), 0.2, seed=3)
    assert first != divide(patients, 0.2, seed=4)
    assert len(first.validation) == 4 and not set(first.train) & set(first.validation)
    assert sorted(first.train + first.validation) == patients
    assert len(divide(["a", "b"], 0.9, seed=0).train) == 1


def test_mask_on_another_grid_names_patient_and_file(phantom_cohort) -> None:
    cohort = read_manifest(phantom_cohort(train=2))
    record = case_records(cohort, ["P000"], ["t2w"], "t2w")[0]
    record["label_path"] = str(cohort.mask_path("P000", "cet1w"))
    with pytest.raises(InputError) as err:
        LoadCased(["t2w"])(record)
    assert "P000" in str(err.value) and "P000_cet1w" in str(err.value)
    assert "grids disagree" in str(err.value)


def test_channels_are_stacked_on_the_first_sequence_grid(phantom_cohort) -> None:
    cohort = read_manifest(phantom_cohort(train=2))
    record = case_records(cohort, ["P001"], ["t2w", "cet1w"], "t2w")[0]
    data = LoadCased(["t2w", "cet1w"])(record)
    t2 = sitk.ReadImage(str(cohort.image_path("P001", "t2w")))
    assert data["image"].shape == (2, *t2.GetSize())
    assert data["label"].shape == (1, *t2.GetSize())
    # The resampled CE-T1 lesion (bright) lies where the T2 mask is.
    inside = data["label"][0].bool()
    assert data["image"][1][inside].mean() > 1.3 * data["image"][1][~inside].mean()


def test_geometry_round_trip_keeps_voxels_and_oblique_direction() -> None:
    array = np.random.default_rng(0).random((6, 7, 8)).astype(np.float32)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.8, 0.9, 4.0))
    image.SetOrigin((10.0, -20.0, 5.0))
    rotation = sitk.Euler3DTransform()
    rotation.SetRotation(0.1, 0.2, 0.3)
    image.SetDirection(rotation.GetMatrix())
    back = to_sitk(to_metatensor(image)[0], to_metatensor(image).affine)
    assert np.array_equal(sitk.GetArrayFromImage(back), array)
    assert np.allclose(back.GetDirection(), image.GetDirection())
    assert np.allclose(back.GetOrigin(), image.GetOrigin())
    assert np.allclose(back.GetSpacing(), image.GetSpacing())


def test_preprocessing_then_resampling_back_recovers_the_mask(phantom_cohort) -> None:
    """Reorient + resample (MONAI) then back to the original grid (SimpleITK) is faithful."""
    cohort = read_manifest(phantom_cohort(train=1))
    settings = parse_config({"data": {"spacing_mm": [1.0, 1.0, 2.0], "orientation": "LPS"}},
                            SegmentationConfig)  # fmt: skip
    record = case_records(cohort, ["P000"], ["cet1w"], "cet1w")[0]
    data = preprocessing(settings, ["cet1w"], with_label=True)(record)
    assert np.allclose(np.linalg.norm(data["image"].affine[:3, :3], axis=0), [1.0, 1.0, 2.0])
    assert abs(float(data["image"].mean())) < 1e-3  # z-score
    reference = sitk.ReadImage(str(cohort.mask_path("P000", "cet1w")))
    on_grid = to_sitk(data["label"][0].float(), data["label"].affine)
    back = resample_onto(on_grid, reference, linear=True) >= 0.5
    assert dice(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(reference)) > 0.95


def test_augmentation_samples_balanced_patches(phantom_cohort, tiny_settings) -> None:
    cohort = read_manifest(phantom_cohort(train=1))
    settings = parse_config(
        tiny_settings(train={"patches_per_volume": 40, "positive_fraction": 0.5}),
        SegmentationConfig,
    )
    record = case_records(cohort, ["P000"], ["t2w"], "t2w")[0]
    chain = augmentation(settings).set_random_state(seed=0)
    patches = chain(preprocessing(settings, ["t2w"], with_label=True)(record))
    assert len(patches) == 40
    assert all(tuple(p["image"].shape) == (1, 32, 32, 8) for p in patches)
    centred = [bool(p["label"][0, 16, 16, 4] > 0) for p in patches]
    assert 8 <= sum(centred) <= 32  # about half centred on lesion voxels (flips move a few)
    assert isinstance(patches[0]["image"], torch.Tensor)


def test_patient_ids_become_safe_file_names() -> None:
    from radiopipe.segment.predict import file_stem

    assert file_stem("A-001") == "A-001"
    assert "/" not in file_stem("../../etc/passwd") and not file_stem("../x").startswith(".")
    assert file_stem("Pat 7 (re-scan)") == "Pat_7__re-scan_"
