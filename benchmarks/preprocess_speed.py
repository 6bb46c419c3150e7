"""Speed of radiopipe.preprocess on one patient of realistic size, against plain SimpleITK.

A synthetic pelvis fills a T2WI-like grid (0.5 x 0.5 x 6 mm, 400 x 400 x 24) and a CE-T1WI-like
grid (1 x 1 x 4 mm, 200 x 200 x 36) moved by a known rigid motion; a smooth multiplicative
bias is applied to the T2WI. References run in the same script:

- N4: radiopipe (fitted on a shrunken image, field applied at full resolution) vs SimpleITK's
  N4 filter run on the full-resolution image with the same levels;
- resampling to 1 mm: radiopipe's B-spline (with overshoot clamp) vs a bare sitk.Resample;
- registration: deterministic (one thread, bit-reproducible) vs ITK's default threading.

    .venv/bin/python benchmarks/preprocess_speed.py [--iterations 50 50 30 20] [--skip-full-n4]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import SimpleITK as sitk

from radiopipe.preprocess import n4_bias_correction, register_rigid, resample_image, target_grid

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def centre_of(image: sitk.Image) -> np.ndarray:
    """Physical centre of an image's grid."""
    middle = [(n - 1) / 2 for n in image.GetSize()]
    return np.array(image.TransformContinuousIndexToPhysicalPoint(middle))


def pelvis(
    shape: tuple[int, int, int], spacing: tuple[float, float, float], seed: int
) -> tuple[sitk.Image, sitk.Image]:
    """A body filling the field of view, with an organ, a lesion and a bright structure."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape).astype(float)
    z, y, x = ((a - (n - 1) / 2) * s for a, n, s in zip(
        (zz, yy, xx), shape, spacing[::-1], strict=True))  # fmt: skip
    array = np.full(shape, 10.0)
    array[(x / 95) ** 2 + (y / 75) ** 2 + (z / 85) ** 2 <= 1] = 60.0
    organ = ((x - 20) / 45) ** 2 + ((y + 10) / 30) ** 2 + ((z - 12) / 35) ** 2 <= 1
    array[organ] = 120.0
    array[(x - 35) ** 2 + (y + 5) ** 2 + (z - 20) ** 2 <= 15**2] = 40.0
    array[((x + 45) / 15) ** 2 + ((y - 25) / 12) ** 2 + (z / 50) ** 2 <= 1] = 200.0
    array += rng.normal(0.0, 3.0, shape)
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.SetSpacing(spacing)
    image = sitk.SmoothingRecursiveGaussian(image, 2.5)
    mask = sitk.GetImageFromArray(organ.astype(np.uint8))
    mask.CopyInformation(image)
    return image, mask


def phantoms() -> tuple[sitk.Image, sitk.Image, np.ndarray, sitk.Transform]:
    """Biased T2WI, moved CE-T1WI, the unbiased T2WI (array), the true fixed->moving map."""
    t2w, _ = pelvis((24, 400, 400), (0.5, 0.5, 6.0), seed=0)
    cet1w, _ = pelvis((36, 200, 200), (1.0, 1.0, 4.0), seed=1)
    _, yy, xx = np.indices(sitk.GetArrayViewFromImage(t2w).shape)
    bias = np.exp(0.3 * (xx / xx.max() - 0.5) + 0.2 * (yy / yy.max() - 0.5) ** 2)
    biased = sitk.GetImageFromArray((sitk.GetArrayFromImage(t2w) * bias).astype(np.float32))
    biased.CopyInformation(t2w)
    motion = sitk.Euler3DTransform()
    motion.SetCenter(centre_of(cet1w).tolist())
    motion.SetRotation(0.05, -0.03, 0.07)
    motion.SetTranslation((3.0, -2.0, 4.0))
    moved = sitk.Resample(cet1w, cet1w, motion, sitk.sitkLinear, 10.0)
    shift = sitk.TranslationTransform(3, (centre_of(cet1w) - centre_of(t2w)).tolist())
    truth = sitk.CompositeTransform([motion.GetInverse(), shift])
    return biased, moved, sitk.GetArrayFromImage(t2w), truth


def full_resolution_n4(image: sitk.Image, iterations: list[int]) -> sitk.Image:
    """The reference: SimpleITK's N4 on every voxel, Otsu foreground as the mask."""
    mask = sitk.OtsuThreshold(image, 0, 1, 200)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations(iterations)
    return corrector.Execute(image, mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, nargs="+", default=[50, 50, 30, 20])
    parser.add_argument("--skip-full-n4", action="store_true", help="skip the slow reference")
    args = parser.parse_args()
    t2w, cet1w, clean, truth = phantoms()
    body = clean > 30

    def residual(image: sitk.Image) -> float:
        """Spread (SD) of the log bias left inside the body; 0 for a perfect correction."""
        return float(np.std(np.log(sitk.GetArrayFromImage(image)[body] / clean[body])))

    print(f"T2WI {t2w.GetSize()} voxels, CE-T1WI {cet1w.GetSize()}; "
          f"log-bias SD in the body {residual(t2w):.3f}")  # fmt: skip
    print(f"{'step':<34} {'radiopipe s':>12} {'reference s':>12} {'ratio':>7}  notes")

    ours, ours_s = timed(lambda: n4_bias_correction(t2w, iterations=args.iterations))
    if args.skip_full_n4:
        print(f"{'N4 (shrink 4) vs full-res N4':<34} {ours_s:>12.2f} {'-':>12} {'-':>7}  "
              f"residual {residual(ours):.3f}")  # fmt: skip
    else:
        ref, ref_s = timed(lambda: full_resolution_n4(t2w, args.iterations))
        left = f"residual {residual(ours):.3f} vs {residual(ref):.3f}"
        print(f"{'N4 (shrink 4) vs full-res N4':<34} {ours_s:>12.2f} {ref_s:>12.2f} "
              f"{ref_s / ours_s:>6.1f}x  {left}")  # fmt: skip

    grid = target_grid(ours, 1.0)
    bare = lambda: sitk.Resample(ours, grid, sitk.Transform(), sitk.sitkBSpline, 0.0)  # noqa: E731
    fixed, ours_s = timed(lambda: resample_image(ours, 1.0))
    _, ref_s = timed(bare)
    print(f"{'B-spline to 1 mm vs sitk.Resample':<34} {ours_s:>12.2f} {ref_s:>12.2f} "
          f"{ref_s / ours_s:>6.2f}x  {fixed.GetSize()} voxels, clamped")  # fmt: skip

    points = [
        fixed.TransformContinuousIndexToPhysicalPoint(
            ((0.3 + 0.2 * np.array(f)) * (np.array(fixed.GetSize()) - 1)).tolist()
        )
        for f in np.ndindex(3, 3, 3)
    ]

    def error(found: sitk.Transform) -> float:
        return max(
            float(np.linalg.norm(np.subtract(found.TransformPoint(p), truth.TransformPoint(p))))
            for p in points
        )

    det, det_s = timed(lambda: register_rigid(fixed, cet1w, seed=0))
    thr, thr_s = timed(lambda: register_rigid(fixed, cet1w, seed=0, deterministic=False))
    print(f"{'rigid MI: 1 thread vs threaded':<34} {det_s:>12.2f} {thr_s:>12.2f} "
          f"{thr_s / det_s:>6.2f}x  max error {error(det):.2f} vs {error(thr):.2f} mm")  # fmt: skip


if __name__ == "__main__":
    main()
