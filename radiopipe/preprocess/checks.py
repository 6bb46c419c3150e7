"""Checks shared by the preprocessing steps: scalar 3-D volumes, label masks, matching grids."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from radiopipe.errors import InputError
from radiopipe.imaging import geometry_mismatches, header_of


def as_label_image(mask: sitk.Image) -> sitk.Image:
    """The mask as an unsigned-integer label image; refuses non-integer, negative or NaN values."""
    check_volume(mask, "mask")
    values = sitk.GetArrayViewFromImage(mask)
    if np.issubdtype(values.dtype, np.floating):
        if not np.all(np.isfinite(values)):
            raise InputError("mask holds NaN or infinite values; a mask must hold labels")
        fractional = values[values != np.round(values)]
        if fractional.size:
            raise InputError(
                f"mask holds non-integer values (e.g. {float(fractional[0]):.4g}); it looks "
                "like an interpolated mask or a probability map. Threshold it to integer "
                "labels first: masks are only ever resampled by nearest neighbour"
            )
    if values.size and values.min() < 0:
        raise InputError(f"mask holds negative values (min {values.min()}); labels must be >= 0")
    top = int(values.max()) if values.size else 0
    pixel = sitk.sitkUInt8 if top <= 255 else sitk.sitkUInt16 if top <= 65535 else sitk.sitkUInt32
    return mask if mask.GetPixelID() == pixel else sitk.Cast(mask, pixel)


def check_volume(image: sitk.Image, what: str) -> None:
    """Refuse anything but a scalar 3-D volume."""
    if image.GetDimension() != 3:
        raise InputError(f"{what} is {image.GetDimension()}-D; a 3-D volume is required")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{what} has {image.GetNumberOfComponentsPerPixel()} components per voxel; "
            "a scalar volume is required"
        )


def matching_mask(mask: sitk.Image, image: sitk.Image) -> sitk.Image:
    """The mask as 0/1 uint8 after checking it lies on the image's grid."""
    problems = geometry_mismatches(header_of(mask), header_of(image))
    if problems:
        raise InputError(f"mask and image grids disagree ({'; '.join(problems)})")
    return sitk.Cast(as_label_image(mask) > 0, sitk.sitkUInt8)


def count(mask: sitk.Image) -> int:
    """Number of non-zero voxels."""
    return int(np.count_nonzero(sitk.GetArrayViewFromImage(mask)))
