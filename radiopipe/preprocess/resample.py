"""Resampling onto target grids: images by B-spline or linear, masks by nearest neighbour.

A mask is never interpolated linearly: its values are labels, not intensities.
:func:`carry_mask` moves a mask across a rigid transform from :mod:`radiopipe.preprocess.register`.

Grid convention: resampling keeps the centre of the field of view and its physical extent
(to within half an output voxel per side), so an image and a mask that share a grid before
resampling share one after it, whether the mask is resampled by ``spacing`` or onto the
resampled image with ``reference=``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import SimpleITK as sitk

from radiopipe.imaging import geometry_mismatches, header_of
from radiopipe.preprocess.checks import as_label_image, check_volume

__all__ = [
    "as_label_image",
    "carry_mask",
    "resample_image",
    "resample_mask",
    "target_grid",
    "transform_image",
]

Interpolator = Literal["bspline", "linear"]
Spacing = float | Sequence[float | None]

IMAGE_INTERPOLATORS = {"bspline": sitk.sitkBSpline, "linear": sitk.sitkLinear}


def target_grid(image: sitk.Image, spacing: Spacing) -> sitk.Image:
    """An empty image on the grid ``image`` gets at ``spacing`` (same centre and extent).

    ``spacing`` is one value for every axis or one per axis (x, y, z); ``None`` for an axis
    keeps that axis as it is (for example ``(1.0, 1.0, None)`` resamples in-plane only).
    """
    old_spacing = np.array(image.GetSpacing(), dtype=float)
    new_spacing = _resolve_spacing(spacing, old_spacing)
    old_size = np.array(image.GetSize(), dtype=float)
    same = np.isclose(new_spacing, old_spacing, rtol=1e-9, atol=0)
    extent = old_size * old_spacing
    new_size = np.where(same, old_size, np.maximum(1, np.floor(extent / new_spacing + 0.5)))
    new_spacing = np.where(same, old_spacing, new_spacing)
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    centre = np.array(image.GetOrigin()) + direction @ (old_spacing * (old_size - 1) / 2)
    new_origin = centre - direction @ (new_spacing * (new_size - 1) / 2)

    grid = sitk.Image([int(s) for s in new_size], sitk.sitkUInt8)
    grid.SetSpacing([float(s) for s in new_spacing])
    grid.SetOrigin([float(o) for o in new_origin])
    grid.SetDirection(image.GetDirection())
    return grid


def resample_image(
    image: sitk.Image,
    spacing: Spacing,
    interpolator: Interpolator = "bspline",
    clamp: bool = True,
) -> sitk.Image:
    """Resample an image to ``spacing`` (mm) with B-spline or linear interpolation (float32).

    ``clamp`` clips B-spline overshoot (ringing at edges) to the input's intensity range.
    """
    check_volume(image, "image")
    _check_interpolator(interpolator)
    grid = target_grid(image, spacing)
    if _same_grid(image, grid):
        return sitk.Cast(image, sitk.sitkFloat32)
    out = sitk.Resample(
        image, grid, sitk.Transform(), IMAGE_INTERPOLATORS[interpolator], 0.0, sitk.sitkFloat32
    )
    return _clamped(out, image) if clamp and interpolator == "bspline" else out


def transform_image(
    image: sitk.Image,
    transform: sitk.Transform,
    reference: sitk.Image,
    interpolator: Interpolator = "bspline",
    clamp: bool = True,
) -> sitk.Image:
    """Resample an image onto ``reference``'s grid through a transform (float32).

    ``transform`` maps points of ``reference``'s space into the image's space, as returned
    by ``register_rigid(fixed=reference, moving=image)``.
    """
    check_volume(image, "image")
    _check_interpolator(interpolator)
    out = sitk.Resample(
        image, reference, transform, IMAGE_INTERPOLATORS[interpolator], 0.0, sitk.sitkFloat32
    )
    return _clamped(out, image) if clamp and interpolator == "bspline" else out


def resample_mask(
    mask: sitk.Image,
    spacing: Spacing | None = None,
    reference: sitk.Image | None = None,
) -> sitk.Image:
    """Resample a label mask to ``spacing`` or onto ``reference``'s grid, by nearest neighbour.

    There is deliberately no interpolator option: label values are never blended. A mask
    holding non-integer values (an interpolated mask or a probability map) is refused.
    """
    if (spacing is None) == (reference is None):
        raise ValueError("resample_mask needs exactly one of spacing= or reference=")
    labels = as_label_image(mask)
    grid = target_grid(labels, spacing) if reference is None else reference
    if _same_grid(labels, grid):
        return labels
    return sitk.Resample(
        labels, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, labels.GetPixelID()
    )


def carry_mask(
    mask: sitk.Image, transform: sitk.Transform, reference: sitk.Image, inverse: bool = False
) -> sitk.Image:
    """Carry a label mask onto ``reference``'s grid through a transform (nearest neighbour).

    ``transform`` maps points of ``reference``'s space into the mask's space, which is what
    ``register_rigid(fixed=reference_image, moving=mask_image)`` returns. To carry a mask
    the other way (drawn on the fixed image, wanted on the moving one) pass ``inverse=True``.
    """
    labels = as_label_image(mask)
    if inverse:
        transform = transform.GetInverse()
    return sitk.Resample(
        labels, reference, transform, sitk.sitkNearestNeighbor, 0, labels.GetPixelID()
    )


# Helpers -----------------------------------------------------------------------------------


def _resolve_spacing(spacing: Spacing, current: np.ndarray) -> np.ndarray:
    values = [spacing] * len(current) if isinstance(spacing, int | float) else list(spacing)
    if len(values) != len(current):
        raise ValueError(f"spacing needs {len(current)} values (x, y, z), got {spacing}")
    resolved = [c if v is None else float(v) for v, c in zip(values, current, strict=True)]
    if not all(math.isfinite(v) and v > 0 for v in resolved):
        raise ValueError(f"spacing values must be positive millimetres, got {spacing}")
    return np.array(resolved)


def _check_interpolator(interpolator: str) -> None:
    if interpolator not in IMAGE_INTERPOLATORS:
        raise ValueError(
            f"image interpolator {interpolator!r} is not allowed; "
            f"allowed values: {', '.join(IMAGE_INTERPOLATORS)}"
        )


def _clamped(image: sitk.Image, source: sitk.Image) -> sitk.Image:
    """``image`` clipped to the intensity range of ``source`` (removes B-spline overshoot)."""
    stats = sitk.MinimumMaximumImageFilter()
    stats.Execute(source)
    return sitk.Clamp(image, sitk.sitkFloat32, stats.GetMinimum(), stats.GetMaximum())


def _same_grid(image: sitk.Image, grid: sitk.Image) -> bool:
    return not geometry_mismatches(header_of(image), header_of(grid))
