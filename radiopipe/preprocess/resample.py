"""Preprocess MRI volumes: resampling, N4 bias-field correction, intensity normalisation.

Images are resampled with B-spline or linear interpolation, masks always with nearest
neighbour (a mask is never interpolated linearly: its values are labels, not intensities).
Rigid registration of one sequence onto another lives in :mod:`radiopipe.preprocess.register` and
is re-exported here; :func:`carry_mask` moves a mask across such a transform.

Grid convention: resampling keeps the centre of the field of view and its physical extent
(to within half an output voxel per side), so an image and a mask that share a grid before
resampling share one after it, whether the mask is resampled by ``spacing`` or onto the
resampled image with ``reference=``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import SimpleITK as sitk

from radiopipe.errors import InputError
from radiopipe.imaging import geometry_mismatches, header_of

__all__ = [
    "carry_mask",
    "foreground_mask",
    "n4_bias_correction",
    "normalise_intensity",
    "resample_image",
    "resample_mask",
    "target_grid",
    "transform_image",
]

log = logging.getLogger(__name__)

Interpolator = Literal["bspline", "linear"]
NormaliseMethod = Literal["zscore", "percentile"]
Spacing = float | Sequence[float | None]

IMAGE_INTERPOLATORS = {"bspline": sitk.sitkBSpline, "linear": sitk.sitkLinear}

# N4 never shrinks an axis below this many voxels (thick-slice MRI keeps all its slices).
N4_MIN_SHRUNK_SIZE = 16


# Resampling -------------------------------------------------------------------------------


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
    _check_volume(image, "image")
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
    _check_volume(image, "image")
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


def as_label_image(mask: sitk.Image) -> sitk.Image:
    """The mask as an unsigned-integer label image; refuses non-integer, negative or NaN values."""
    _check_volume(mask, "mask")
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


# Bias-field correction ---------------------------------------------------------------------


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
    _check_volume(image, "image")
    if shrink_factor < 1:
        raise ValueError(f"shrink_factor must be >= 1, got {shrink_factor}")
    if not iterations or any(int(i) < 1 for i in iterations):
        raise ValueError(f"iterations must be a non-empty list of positive integers: {iterations}")
    float_image = sitk.Cast(image, sitk.sitkFloat32)
    region = foreground_mask(float_image) if mask is None else _matching_mask(mask, image)
    region = sitk.And(region, sitk.Cast(float_image > 0, sitk.sitkUInt8))
    if not _count(region):
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


# Intensity normalisation -------------------------------------------------------------------


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
    _check_volume(image, "image")
    low, high = percentiles
    if not 0 <= low < high <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}")
    region = foreground_mask(image) if mask is None else _matching_mask(mask, image)
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


def _check_volume(image: sitk.Image, what: str) -> None:
    if image.GetDimension() != 3:
        raise InputError(f"{what} is {image.GetDimension()}-D; a 3-D volume is required")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{what} has {image.GetNumberOfComponentsPerPixel()} components per voxel; "
            "a scalar volume is required"
        )


def _matching_mask(mask: sitk.Image, image: sitk.Image) -> sitk.Image:
    problems = geometry_mismatches(header_of(mask), header_of(image))
    if problems:
        raise InputError(f"mask and image grids disagree ({'; '.join(problems)})")
    return sitk.Cast(as_label_image(mask) > 0, sitk.sitkUInt8)


def _count(mask: sitk.Image) -> int:
    return int(np.count_nonzero(sitk.GetArrayViewFromImage(mask)))
