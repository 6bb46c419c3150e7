"""Small synthetic pelvic-like volumes with known geometry, built in memory for these tests."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk


def physical_grid(
    shape: tuple[int, int, int], spacing: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Millimetre coordinates (z, y, x arrays) of voxel centres, relative to the grid centre."""
    zz, yy, xx = np.indices(shape).astype(float)
    return (
        (zz - (shape[0] - 1) / 2) * spacing[2],
        (yy - (shape[1] - 1) / 2) * spacing[1],
        (xx - (shape[2] - 1) / 2) * spacing[0],
    )


def to_image(
    array: np.ndarray,
    spacing: tuple[float, float, float],
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
    direction: tuple[float, ...] | None = None,
) -> sitk.Image:
    """A numpy (z, y, x) array as an image with the given geometry."""
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    return image


def centre_of(image: sitk.Image) -> np.ndarray:
    """Physical position of the centre of an image's grid."""
    middle = [(size - 1) / 2 for size in image.GetSize()]
    return np.array(image.TransformContinuousIndexToPhysicalPoint(middle))


def pelvis(
    shape: tuple[int, int, int] = (32, 48, 48),
    spacing: tuple[float, float, float] = (2.0, 2.0, 3.0),
    seed: int = 0,
    noise: float = 3.0,
) -> tuple[sitk.Image, sitk.Image]:
    """An asymmetric body with an organ, a lesion and a bright structure; returns image, organ.

    The organ mask marks a region of uniform true intensity (120) for bias-field tests.
    """
    rng = np.random.default_rng(seed)
    z, y, x = physical_grid(shape, spacing)
    array = np.full(shape, 10.0)
    array[(x / 40) ** 2 + (y / 30) ** 2 + (z / 35) ** 2 <= 1] = 60.0
    organ = ((x - 8) / 18) ** 2 + ((y + 4) / 12) ** 2 + ((z - 5) / 14) ** 2 <= 1
    array[organ] = 120.0
    array[(x - 14) ** 2 + (y + 2) ** 2 + (z - 8) ** 2 <= 36] = 40.0
    array[((x + 18) / 6) ** 2 + ((y - 10) / 5) ** 2 + (z / 20) ** 2 <= 1] = 200.0
    array += rng.normal(0.0, noise, shape)
    image = sitk.SmoothingRecursiveGaussian(to_image(array.astype(np.float32), spacing), 1.0)
    return image, to_image(organ.astype(np.uint8), spacing)


def sphere(
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    radius_mm: float,
    centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """A binary ball (uint8, z-y-x) of a physical radius around a point (x, y, z) in mm."""
    z, y, x = physical_grid(shape, spacing)
    cx, cy, cz = centre_mm
    return (((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) <= radius_mm**2).astype(np.uint8)
