from __future__ import annotations

import inspect

import numpy as np
import pytest
import SimpleITK as sitk

from radiopipe.errors import InputError
from radiopipe.imaging import geometry_mismatches, header_of
from radiopipe.preprocess import resample_image, resample_mask, target_grid
from tests.preprocess.conftest import centre_of, pelvis, sphere, to_image

# An oblique, axis-swapping direction so that origin handling is tested beyond the identity.
OBLIQUE = (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
STUDY_GRID = ((0.8, 0.8, 5.0), (12, 50, 50))  # thick-slice T2WI-like: 0.8 mm in-plane, 5 mm
TARGETS = [1.0, (1.5, 1.5, 2.0), 0.6, (0.5, 0.5, None)]


def _corners(image: sitk.Image) -> np.ndarray:
    """Physical positions of the outer faces' corners (voxel edges, not centres)."""
    size = np.array(image.GetSize())
    points = [
        image.TransformContinuousIndexToPhysicalPoint(
            [-0.5 + c * s for c, s in zip(corner, size, strict=True)]
        )
        for corner in np.ndindex(2, 2, 2)
    ]
    return np.array(points)


def _centroid(mask: sitk.Image) -> np.ndarray:
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(mask)
    return np.array(stats.GetCentroid(1))


def _study_mask(radius: float = 12.0) -> sitk.Image:
    spacing, shape = STUDY_GRID
    array = sphere(shape, spacing, radius, (1.3, -0.7, 2.1))
    return to_image(array, spacing, origin=(3.3, -7.1, 12.0), direction=OBLIQUE)


@pytest.mark.parametrize("target", TARGETS)
def test_resampling_keeps_centre_and_physical_extent(target) -> None:
    image = sitk.Cast(_study_mask(), sitk.sitkFloat32)
    out = resample_image(image, target)
    new_spacing = np.array(out.GetSpacing())
    targets = [target] * 3 if isinstance(target, float) else target
    wanted = [old if t is None else t for t, old in zip(targets, image.GetSpacing(), strict=True)]
    assert np.allclose(new_spacing, wanted)
    before, after = _corners(image), _corners(out)
    assert np.allclose(before.mean(axis=0), after.mean(axis=0), atol=1e-6)  # same centre
    # Each face moves by at most half an output voxel (rounding of the voxel count).
    assert np.abs(after - before).max() <= new_spacing.max() / 2 + 1e-6
    assert out.GetDirection() == image.GetDirection()
    assert out.GetPixelID() == sitk.sitkFloat32


@pytest.mark.parametrize("target", TARGETS)
def test_mask_keeps_volume_position_and_stays_binary(target) -> None:
    mask = _study_mask()
    out = resample_mask(mask, target)
    values = np.unique(sitk.GetArrayFromImage(out))
    assert set(values.tolist()) == {0, 1} and out.GetPixelID() == sitk.sitkUInt8

    old_voxel = np.prod(mask.GetSpacing())
    new_voxel = np.prod(out.GetSpacing())
    volume_before = sitk.GetArrayFromImage(mask).sum() * old_voxel
    volume_after = sitk.GetArrayFromImage(out).sum() * new_voxel
    # Nearest neighbour moves the boundary by at most half a source voxel's diagonal, so the
    # volume may change by at most that shell; on these grids it changes far less (< 4 %).
    shell = 4 * np.pi * 12.0**2 * np.linalg.norm(mask.GetSpacing()) / 2
    assert abs(volume_after - volume_before) < min(shell, 0.04 * volume_before)
    assert np.abs(_centroid(out) - _centroid(mask)).max() < min(out.GetSpacing()) / 2


def test_mask_disagrees_with_true_sphere_only_within_half_a_source_voxel() -> None:
    mask = _study_mask()
    out = resample_mask(mask, 1.0)
    inside = sitk.GetArrayFromImage(out).astype(bool)
    size = out.GetSize()
    index = np.stack(np.meshgrid(*[np.arange(s) for s in size], indexing="ij"), -1)
    points = np.array(
        [out.TransformIndexToPhysicalPoint(i.tolist()) for i in index.reshape(-1, 3)]
    ).reshape(*size, 3)
    direction = np.array(OBLIQUE).reshape(3, 3)
    centre = centre_of(mask) + direction @ np.array([1.3, -0.7, 2.1])
    distance = np.linalg.norm(points - centre, axis=-1).transpose(2, 1, 0)  # (z, y, x)
    truth = distance <= 12.0
    wrong = inside != truth
    assert wrong.sum() < 0.25 * truth.sum()  # the 5 mm staircase of a 12 mm ball
    half_diagonal = np.linalg.norm(mask.GetSpacing()) / 2
    assert np.abs(distance[wrong] - 12.0).max() <= half_diagonal + 1e-6


def test_image_and_mask_land_on_the_same_grid() -> None:
    mask = _study_mask()
    image = sitk.Cast(mask, sitk.sitkFloat32) * 100.0
    resampled = resample_image(image, (1.0, 1.0, 1.0), "linear")
    by_spacing = resample_mask(mask, (1.0, 1.0, 1.0))
    by_reference = resample_mask(mask, reference=resampled)
    assert geometry_mismatches(header_of(resampled), header_of(by_spacing)) == []
    assert np.array_equal(sitk.GetArrayFromImage(by_spacing), sitk.GetArrayFromImage(by_reference))
    assert geometry_mismatches(header_of(target_grid(image, 1.0)), header_of(resampled)) == []


def test_masks_cannot_be_interpolated_and_soft_masks_are_refused() -> None:
    assert "interpolator" not in inspect.signature(resample_mask).parameters
    mask = _study_mask()
    with pytest.raises(TypeError):
        resample_mask(mask, 1.0, interpolator="linear")  # type: ignore[call-arg]

    # A mask stored as float with integer values (0.0 / 1.0) is fine and comes back as labels.
    as_float = resample_mask(sitk.Cast(mask, sitk.sitkFloat32), 1.0)
    assert as_float.GetPixelID() == sitk.sitkUInt8
    assert np.array_equal(
        sitk.GetArrayFromImage(as_float), sitk.GetArrayFromImage(resample_mask(mask, 1.0))
    )
    # An interpolated (soft) mask is refused with a message saying what to do.
    soft = sitk.SmoothingRecursiveGaussian(sitk.Cast(mask, sitk.sitkFloat32), 1.0)
    with pytest.raises(InputError, match=r"non-integer values.*Threshold it"):
        resample_mask(soft, 1.0)
    negative = sitk.Cast(mask, sitk.sitkInt16) - 1
    with pytest.raises(InputError, match="negative"):
        resample_mask(negative, 1.0)
    with pytest.raises(ValueError, match="exactly one of spacing= or reference="):
        resample_mask(mask)


def test_multilabel_masks_keep_their_labels() -> None:
    spacing, shape = STUDY_GRID
    array = sphere(shape, spacing, 12.0) + sphere(shape, spacing, 6.0) * 2
    out = resample_mask(to_image(array.astype(np.uint8), spacing), 1.0)
    assert set(np.unique(sitk.GetArrayFromImage(out)).tolist()) == {0, 1, 3}


def test_image_interpolators_and_bspline_overshoot_clamp() -> None:
    image, _ = pelvis(shape=(16, 24, 24), spacing=(2.0, 2.0, 4.0), noise=0.0)
    step = sitk.Cast(image > 100, sitk.sitkFloat32) * 100.0  # a hard edge rings with B-splines
    low, high = 0.0, 100.0
    clamped = sitk.GetArrayFromImage(resample_image(step, 0.7, "bspline"))
    raw = sitk.GetArrayFromImage(resample_image(step, 0.7, "bspline", clamp=False))
    linear = sitk.GetArrayFromImage(resample_image(step, 0.7, "linear"))
    assert raw.min() < low - 1 and raw.max() > high + 1  # overshoot exists ...
    assert clamped.min() >= low and clamped.max() <= high  # ... and is clipped
    assert linear.min() >= low and linear.max() <= high
    assert not np.allclose(clamped, linear)
    with pytest.raises(ValueError, match="allowed values: bspline, linear"):
        resample_image(step, 1.0, "nearest")  # type: ignore[arg-type]


def test_unchanged_spacing_returns_the_same_voxels() -> None:
    image, _ = pelvis(shape=(8, 12, 12))
    out = resample_image(image, (None, None, None))
    assert np.array_equal(sitk.GetArrayFromImage(out), sitk.GetArrayFromImage(image))
    assert geometry_mismatches(header_of(out), header_of(image)) == []


def test_bad_spacing_is_refused() -> None:
    image, _ = pelvis(shape=(8, 12, 12))
    with pytest.raises(ValueError, match="positive millimetres"):
        resample_image(image, (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="needs 3 values"):
        resample_image(image, (1.0, 1.0))
