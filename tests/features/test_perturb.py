"""Mask perturbations: erosion/dilation by a physical radius, random contours, reuse on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radiopipe.config.extraction import PerturbationSettings
from radiopipe.features.perturb import (
    dilate,
    effective_radius,
    erode,
    make_perturbed,
    random_contour,
    variants,
)
from tests.conftest import sphere_mask, write_volume


def image_of(array: np.ndarray, spacing=(1.0, 1.0, 1.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    return image


def voxels(image: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(image)


def test_radius_is_at_least_one_voxel() -> None:
    assert effective_radius((1.0, 1.0, 1.0), 1.0) == 1.0
    assert effective_radius((1.6, 1.6, 5.0), 0.5) == 1.6


def test_thick_slices_are_not_eroded_through_plane() -> None:
    block = np.zeros((6, 12, 12), np.uint8)
    block[1:5, 2:10, 2:10] = 1
    eroded = voxels(erode(image_of(block, (0.5, 0.5, 3.0)), 1, 1.0))
    assert eroded[1:5].any(axis=(1, 2)).all()  # every slice keeps voxels
    assert eroded[2, 4:8, 4:8].all() and not eroded[2, 3, 5]  # 2 voxels = 1 mm in-plane


def test_erosion_and_dilation_nest_and_move_the_surface_by_one_voxel() -> None:
    sphere = sphere_mask((30, 30, 30), 8)
    mask = image_of(sphere)
    eroded, dilated = voxels(erode(mask, 1, 1.0)), voxels(dilate(mask, 1, 1.0))
    assert np.all(eroded <= sphere) and np.all(sphere <= dilated)
    # volume of a sphere of radius r - 1 and r + 1, within the voxelisation error
    assert eroded.sum() == pytest.approx(4 / 3 * np.pi * 7**3, rel=0.08)
    assert dilated.sum() == pytest.approx(4 / 3 * np.pi * 9**3, rel=0.08)


def test_other_labels_and_label_value() -> None:
    array = sphere_mask((20, 20, 20), 5) * 2
    array[0, 0, 0] = 7  # another structure: not part of the ROI
    out = voxels(dilate(image_of(array), 2, 1.0))
    assert set(np.unique(out)) == {0, 2}
    assert (out == 2).sum() > (array == 2).sum()


def test_random_contour_is_seeded_close_and_connected() -> None:
    sphere = sphere_mask((30, 40, 40), 9)
    mask = image_of(sphere, (0.8, 0.8, 1.0))
    first = voxels(random_contour(mask, 1, 1.5, 5.0, np.random.default_rng(3)))
    again = voxels(random_contour(mask, 1, 1.5, 5.0, np.random.default_rng(3)))
    other = voxels(random_contour(mask, 1, 1.5, 5.0, np.random.default_rng(4)))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, sphere)
    dice = 2 * (first & sphere).sum() / (first.sum() + sphere.sum())
    assert 0.8 < dice < 0.99
    components = sitk.ConnectedComponent(image_of(first.astype(np.uint8)))
    assert sitk.GetArrayFromImage(components).max() == 1


def test_perturbed_masks_are_written_once_and_named_by_their_inputs(tmp_path: Path) -> None:
    source = write_volume(tmp_path / "m.nii.gz", sphere_mask((16, 20, 20), 5), (1.0, 1.0, 2.0))
    settings = PerturbationSettings(contour_repeats=2)
    paths = make_perturbed(source, tmp_path / "out", "P1", "t2w", 1, settings, "abc")
    assert list(paths) == variants(settings) == ["erode", "dilate", "contour1", "contour2"]
    stamps = {name: path.stat().st_mtime_ns for name, path in paths.items()}
    again = make_perturbed(source, tmp_path / "out", "P1", "t2w", 1, settings, "abc")
    assert again == paths and {n: p.stat().st_mtime_ns for n, p in again.items()} == stamps
    reseeded = make_perturbed(
        source, tmp_path / "out", "P1", "t2w", 1, settings.model_copy(update={"seed": 5}), "abc"
    )
    assert reseeded["erode"] == paths["erode"] and reseeded["contour1"] != paths["contour1"]
    changed = make_perturbed(source, tmp_path / "out", "P1", "t2w", 1, settings, "new-mask")
    assert changed["erode"] != paths["erode"]
