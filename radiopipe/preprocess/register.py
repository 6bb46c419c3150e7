"""Rigid registration of one MRI sequence onto another (transform files: :mod:`.transforms`).

The transform returned by :func:`register_rigid` follows ITK's convention: it maps points
of the *fixed* image's physical space into the *moving* image's space, so resampling the
moving image (or a mask drawn on it) through it onto the fixed grid aligns the two.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from typing import Literal

import SimpleITK as sitk

from radiopipe.errors import InputError

log = logging.getLogger(__name__)

Initialisation = Literal["geometry", "moments", "physical"]

_INITIALISERS = {
    "geometry": sitk.CenteredTransformInitializerFilter.GEOMETRY,
    "moments": sitk.CenteredTransformInitializerFilter.MOMENTS,
}


def register_rigid(
    fixed: sitk.Image,
    moving: sitk.Image,
    fixed_mask: sitk.Image | None = None,
    seed: int = 0,
    initialisation: Initialisation = "geometry",
    histogram_bins: int = 50,
    sampling_percentage: float = 0.2,
    max_samples: int = 50_000,
    shrink_factors: Sequence[int] = (4, 2, 1),
    smoothing_sigmas_mm: Sequence[float] = (2.0, 1.0, 0.0),
    iterations: int = 200,
    initial_step: float = 1.0,
    min_step: float = 1e-4,
    deterministic: bool = True,
) -> sitk.Euler3DTransform:
    """Find the rigid transform aligning ``moving`` to ``fixed`` by Mattes mutual information.

    Multi-resolution (one level per shrink factor, Gaussian smoothing in mm) with regular-step
    gradient descent (steps from ``initial_step`` down to ``min_step``, with scales from
    physical shift so that a unit step moves voxels by about 1 mm). The metric sees a random
    sample of ``sampling_percentage`` of each level's voxels (at most ``max_samples``) drawn
    from ``seed``. With ``deterministic`` ITK runs on one thread, because multi-threaded sums
    differ in the last digits from run to run; the same inputs and seed then give the same
    transform to the bit. The Euler3D transform rotates about the fixed image's centre;
    ``initialisation`` sets the starting translation: ``geometry`` aligns the centres of the
    two fields of view, ``moments`` the centres of intensity mass, ``physical`` trusts the
    scanner coordinates (no translation; for series of one session with different fields
    of view).
    """
    if len(shrink_factors) != len(smoothing_sigmas_mm):
        raise ValueError(
            f"shrink_factors {list(shrink_factors)} and smoothing_sigmas_mm "
            f"{list(smoothing_sigmas_mm)} need one entry per level each"
        )
    if not 0 < sampling_percentage <= 1:
        raise ValueError(f"sampling_percentage must be in (0, 1], got {sampling_percentage}")
    fixed_f = sitk.Cast(fixed, sitk.sitkFloat32)
    moving_f = sitk.Cast(moving, sitk.sitkFloat32)
    initial = _initial_transform(fixed_f, moving_f, initialisation)
    with _itk_threads(1 if deterministic else None):
        method = sitk.ImageRegistrationMethod()
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=histogram_bins)
        method.SetMetricSamplingStrategy(method.RANDOM)
        method.SetMetricSamplingPercentagePerLevel(
            _sampling_per_level(fixed_f, shrink_factors, sampling_percentage, max_samples),
            _itk_seed(seed),
        )
        if fixed_mask is not None:
            method.SetMetricFixedMask(sitk.Cast(fixed_mask > 0, sitk.sitkUInt8))
        method.SetInterpolator(sitk.sitkLinear)
        method.SetOptimizerAsRegularStepGradientDescent(
            learningRate=initial_step,
            minStep=min_step,
            numberOfIterations=iterations,
            relaxationFactor=0.7,
            gradientMagnitudeTolerance=1e-8,
        )
        method.SetOptimizerScalesFromPhysicalShift()
        method.SetShrinkFactorsPerLevel([int(f) for f in shrink_factors])
        method.SetSmoothingSigmasPerLevel([float(s) for s in smoothing_sigmas_mm])
        method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
        method.SetInitialTransform(initial, inPlace=False)
        try:
            result = method.Execute(fixed_f, moving_f)
        except RuntimeError as err:
            raise InputError(f"rigid registration failed ({last_line(err)})") from None
    log.info(
        "rigid registration: metric %.4f after %d iterations (%s)",
        method.GetMetricValue(),
        method.GetOptimizerIteration(),
        method.GetOptimizerStopConditionDescription(),
    )
    return _as_euler(result)


def _initial_transform(
    fixed: sitk.Image, moving: sitk.Image, initialisation: Initialisation
) -> sitk.Euler3DTransform:
    if initialisation == "physical":
        centre = fixed.TransformContinuousIndexToPhysicalPoint(
            [(s - 1) / 2 for s in fixed.GetSize()]
        )
        transform = sitk.Euler3DTransform()
        transform.SetCenter(centre)
        return transform
    if initialisation not in _INITIALISERS:
        raise ValueError(
            f"initialisation {initialisation!r}; allowed values: geometry, moments, physical"
        )
    return sitk.Euler3DTransform(
        sitk.CenteredTransformInitializer(
            fixed, moving, sitk.Euler3DTransform(), _INITIALISERS[initialisation]
        )
    )


def _as_euler(transform: sitk.Transform) -> sitk.Euler3DTransform:
    """The registration result as a plain Euler3DTransform (unwrapping a composite)."""
    concrete = transform.Downcast()
    if isinstance(concrete, sitk.CompositeTransform):
        concrete.FlattenTransform()
        if concrete.GetNumberOfTransforms() != 1:
            raise RuntimeError("rigid registration returned a composite of several transforms")
        concrete = concrete.GetNthTransform(0).Downcast()
    return sitk.Euler3DTransform(concrete)


@contextlib.contextmanager
def _itk_threads(count: int | None) -> Iterator[None]:
    """Run ITK filters created inside the block on ``count`` threads (None: unchanged)."""
    if count is None:
        yield
        return
    previous = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(count)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous)


def _sampling_per_level(
    fixed: sitk.Image, shrink_factors: Sequence[int], percentage: float, max_samples: int
) -> list[float]:
    """The sampled fraction of each level's voxels: ``percentage``, capped at ``max_samples``."""
    fractions = []
    for factor in shrink_factors:
        voxels = math.prod(max(1, math.ceil(s / factor)) for s in fixed.GetSize())
        fractions.append(min(percentage, max_samples / voxels))
    return fractions


def _itk_seed(seed: int) -> int:
    """SimpleITK reads seed 0 as "seed from the clock", so user seeds are shifted by one."""
    return int(seed) % (2**32 - 1) + 1


def last_line(err: Exception) -> str:
    """The last non-empty line of an ITK error (the useful one)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1] if lines else type(err).__name__
