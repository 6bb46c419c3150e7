from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radiopipe.cohort.manifest import read_manifest
from radiopipe.config.deep import CropSettings
from radiopipe.deep.crops import CropStore, crop_patient
from radiopipe.errors import InputError
from tests.deep.conftest import make_cohort

SETTINGS = CropSettings(size=(16, 18, 12), spacing_mm=(2.0, 2.0, 3.0))


@pytest.fixture(scope="module")
def small_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cohort(tmp_path_factory.mktemp("crops"), n_train=4, n_internal=0, n_external=0)


def _centroid(mask: np.ndarray) -> np.ndarray:
    return np.argwhere(mask).mean(axis=0)


def test_crop_is_lesion_centred_on_a_common_grid(small_manifest: Path) -> None:
    cohort = read_manifest(small_manifest)
    crop = crop_patient(cohort, "P001", SETTINGS)
    assert crop.image.shape == (2, 12, 18, 16) and crop.image.dtype == np.float32
    assert crop.mask.shape == (2, 12, 18, 16)
    centre = (np.array(SETTINGS.array_shape) - 1) / 2
    for seq in range(2):  # both sequences, from different scan grids, land on the lesion
        assert np.abs(_centroid(crop.mask[seq]) - centre).max() < 1.0
    assert crop.lesion_inside == 1.0
    for channel in crop.image:  # z-scored after percentile clipping
        assert abs(channel.mean()) < 1e-4 and channel.std() == pytest.approx(1.0, rel=1e-3)
    lesion, background = crop.image[1][crop.mask[1] == 1], crop.image[1][crop.mask[1] == 0]
    assert lesion.mean() > background.mean() + 1.0, "P001 (label 1) enhances on CE-T1"


def test_lesion_larger_than_the_crop_is_reported(small_manifest: Path, caplog) -> None:
    tight = CropSettings(size=(8, 8, 8), spacing_mm=(1.0, 1.0, 1.0))  # 8 mm; lesions are 14-22
    crop = crop_patient(read_manifest(small_manifest), "P002", tight)
    assert 0 < crop.lesion_inside < 0.5
    assert "patient P002: only" in caplog.text and "8x8x8 mm crop" in caplog.text


def test_percentile_normalisation_and_mask_channel(small_manifest: Path) -> None:
    settings = SETTINGS.model_copy(update={"normalise": "percentile", "mask_channel": True})
    crop = crop_patient(read_manifest(small_manifest), "P000", settings)
    assert crop.image.shape[0] == 3
    assert crop.image[:2].min() == 0.0 and crop.image[:2].max() == 1.0
    np.testing.assert_array_equal(crop.image[2], crop.mask[0])


def test_missing_and_empty_masks_name_the_patient(small_manifest: Path, tmp_path: Path) -> None:
    cohort = read_manifest(small_manifest)
    no_masks = cohort.with_columns(mask_t2w=[""] * 4, mask_cet1w=[""] * 4)
    with pytest.raises(InputError, match=r"patient P002: no lesion mask .* mask_t2w"):
        crop_patient(no_masks, "P002", SETTINGS)
    empty = sitk.ReadImage(str(cohort.mask_path("P002", "t2w"))) * 0
    sitk.WriteImage(empty, str(tmp_path / "empty.nii.gz"))
    paths = list(cohort.table["mask_t2w"])
    paths[2] = str(tmp_path / "empty.nii.gz")
    with pytest.raises(InputError, match=r"patient P002, file .*empty.nii.gz: mask is empty"):
        crop_patient(cohort.with_columns(mask_t2w=paths), "P002", SETTINGS)


def test_one_mask_serves_both_sequences(small_manifest: Path) -> None:
    cohort = read_manifest(small_manifest)
    only_t2 = cohort.with_columns(mask_cet1w=[""] * 4)
    crop = crop_patient(only_t2, "P003", SETTINGS)
    reference = crop_patient(cohort, "P003", SETTINGS)
    assert np.abs(_centroid(crop.mask[1]) - _centroid(reference.mask[1])).max() < 1.0


def test_store_caches_and_rebuilds_when_an_input_changes(small_manifest: Path, tmp_path: Path):
    cohort = read_manifest(small_manifest)
    store = CropStore(tmp_path / "crops", SETTINGS)
    summary = store.build(cohort, ["P000", "P001"])
    assert list(summary["patient_id"]) == ["P000", "P001"]
    cached = store.path("P000")
    first = cached.stat().st_mtime_ns
    store.build(cohort, ["P000"])
    assert cached.stat().st_mtime_ns == first, "unchanged inputs reuse the cache"
    image = cohort.image_path("P000", "t2w")
    os.utime(image, ns=(first + 10**9, first + 10**9))
    store.build(cohort, ["P000"])
    assert cached.stat().st_mtime_ns != first, "a touched input file rebuilds the crop"
    other = CropStore(tmp_path / "crops", SETTINGS.model_copy(update={"size": (8, 8, 8)}))
    assert other.root != store.root, "settings key the cache folder"
    np.testing.assert_array_equal(
        store.load("P000").image, crop_patient(cohort, "P000", SETTINGS).image
    )


def test_store_refuses_pickled_objects(tmp_path: Path) -> None:
    store = CropStore(tmp_path, SETTINGS)
    store.root.mkdir(parents=True)
    np.savez(store.path("X"), image=np.array([object()]), mask=np.zeros(1), lesion_inside=1.0)
    with pytest.raises(ValueError, match="allow_pickle"):
        store.load("X")


def test_patient_ids_become_safe_distinct_file_names(tmp_path: Path) -> None:
    store = CropStore(tmp_path, SETTINGS)
    a, b = store.path("../../etc/passwd"), store.path("../../etc_passwd")
    assert a.parent == store.root and b.parent == store.root and a != b
