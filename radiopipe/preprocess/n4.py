"""N4 bias-field correction and the Otsu foreground it is fitted in."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import SimpleITK as sitk

from radiopipe.errors import InputError
from radiopipe.preprocess.checks import check_volume, count, matching_mask

__all__ = ["N4_MIN_SHRUNK_SIZE", "foreground_mask", "n4_bias_correction"]

log = logging.getLogger(__name__)

# N4 never shrinks an axis below this many voxels (thick-slice MRI keeps all its slices).
N4_MIN_SHRUNK_SIZE = 16


def n4_bias_correction(
    image: sitk.Image,
    mask: sitk.Image | None = None,
    shrink_factor: int = 4,
    iterations: Sequence[int] = (50, 50, 30, 20),
    convergence_threshold: float = 1e-3,
    spline_order: int = 3,
    control_points: int = 4,
    bias_field_fwhm: float = 0.15,
    wiener_noise: float = 0.01,
    histogram_bins: int = 200,
    return_field: bool = False,
) -> sitk.Image | tuple[sitk.Image, sitk.Image]:
    """Correct a multiplicative bias field with N4 (float32 result, same grid).

    The field is estimated on an image shrunk by ``shrink_factor`` (never below
    16 voxels along an axis) inside ``mask`` (Otsu foreground when None; non-positive voxels
    are left out because N4 works on log intensities), then applied at full resolution by
    dividing by the exponential of the log bias field. ``iterations`` has one entry per
    fitting level. With ``return_field`` the bias field itself is returned as well.
    """
    check_volume(image, "image")
    if shrink_factor < 1:
        raise ValueError(f"shrink_factor must be >= 1, got {shrink_factor}")
    if not iterations or any(int(i) < 1 for i in iterations):
        raise ValueError(f"iterations must be a non-empty list of positive integers: {iterations}")
    float_image = sitk.Cast(image, sitk.sitkFloat32)
    region = foreground_mask(float_image) if mask is None else matching_mask(mask, image)
    region = sitk.And(region, sitk.Cast(float_image > 0, sitk.sitkUInt8))
    if not count(region):
        raise InputError("no foreground voxels with positive intensity to fit the bias field")

    factors = [max(1, min(shrink_factor, size // N4_MIN_SHRUNK_SIZE)) for size in image.GetSize()]
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([int(i) for i in iterations])
    corrector.SetConvergenceThreshold(convergence_threshold)
    corrector.SetSplineOrder(spline_order)
    corrector.SetNumberOfControlPoints([control_points] * image.GetDimension())
    corrector.SetBiasFieldFullWidthAtHalfMaximum(bias_field_fwhm)
    corrector.SetWienerFilterNoise(wiener_noise)
    corrector.SetNumberOfHistogramBins(histogram_bins)
    corrector.Execute(sitk.Shrink(float_image, factors), sitk.Shrink(region, factors))

    log_field = corrector.GetLogBiasFieldAsImage(float_image)
    field = sitk.Exp(log_field)
    corrected = sitk.Cast(float_image / field, sitk.sitkFloat32)
    log.debug(
        "N4: shrink %s, %d levels, last convergence %.2g",
        factors, len(iterations), corrector.GetCurrentConvergenceMeasurement(),
    )  # fmt: skip
    return (corrected, sitk.Cast(field, sitk.sitkFloat32)) if return_field else corrected


def foreground_mask(image: sitk.Image) -> sitk.Image:
    """Body foreground by Otsu thresholding, with enclosed holes filled (uint8 0/1)."""
    otsu = sitk.OtsuThreshold(sitk.Cast(image, sitk.sitkFloat32), 0, 1, 200)
    return sitk.Cast(sitk.BinaryFillhole(otsu, fullyConnected=False), sitk.sitkUInt8)
