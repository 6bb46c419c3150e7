"""Intensity normalisation from statistics inside a foreground mask."""

from __future__ import annotations

from typing import Literal

import numpy as np
import SimpleITK as sitk

from radiopipe.errors import InputError
from radiopipe.preprocess.checks import check_volume, matching_mask
from radiopipe.preprocess.n4 import foreground_mask

__all__ = ["NormaliseMethod", "normalise_intensity"]

NormaliseMethod = Literal["zscore", "percentile"]


def normalise_intensity(
    image: sitk.Image,
    mask: sitk.Image | None = None,
    method: NormaliseMethod = "zscore",
    percentiles: tuple[float, float] = (1.0, 99.0),
    clip: bool = False,
) -> sitk.Image:
    """Rescale intensities from statistics inside a foreground mask (Otsu when None).

    ``zscore`` gives mean 0 and standard deviation 1 inside the mask; ``percentile`` maps
    the mask's ``percentiles`` (low, high) to 0 and 1, and with ``clip`` clips to [0, 1].
    """
    check_volume(image, "image")
    low, high = percentiles
    if not 0 <= low < high <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}")
    region = foreground_mask(image) if mask is None else matching_mask(mask, image)
    values = sitk.GetArrayViewFromImage(image)
    inside = values[sitk.GetArrayViewFromImage(region) > 0].astype(np.float64)
    if inside.size < 2:
        raise InputError(f"foreground mask holds {inside.size} voxel(s); cannot normalise")
    if method == "zscore":
        offset, scale = inside.mean(), inside.std()
    elif method == "percentile":
        offset, top = np.percentile(inside, [low, high])
        scale = top - offset
    else:
        raise ValueError(f"normalisation method {method!r}; allowed values: zscore, percentile")
    if not scale > 0:
        raise InputError(f"intensity is constant inside the foreground mask; cannot {method}")
    array = (values.astype(np.float64) - offset) / scale
    if clip and method == "percentile":
        array = np.clip(array, 0.0, 1.0)
    out = sitk.GetImageFromArray(array.astype(np.float32))
    out.CopyInformation(image)
    return out
