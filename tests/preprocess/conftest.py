"""Small synthetic pelvic-like volumes with known geometry, built in memory for these tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

Grid = tuple[tuple[float, float, float], tuple[int, int, int]]  # spacing (x, y, z), shape (z, y, x)
T2W_SMALL: Grid = ((1.0, 1.0, 5.0), (14, 64, 80))
CET1W_SMALL: Grid = ((1.25, 1.25, 4.0), (18, 52, 64))
T2W_TINY: Grid = ((2.0, 2.0, 5.0), (14, 32, 40))
CET1W_TINY: Grid = ((2.5, 2.5, 5.0), (14, 26, 32))


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


def two_sequences(index: int, t2w_grid: Grid, cet1w_grid: Grid) -> dict[str, sitk.Image]:
    """A T2W image with a lesion mask, and a CE-T1W image of the same anatomy, slightly moved.

    The CE-T1W grid is centred on the T2W one; the motion is a rotation of (3 + index) degrees
    about z and a few mm of translation; its contrast is inverted (mutual information needed).
    """
    spacing, shape = t2w_grid
    t2w, _ = pelvis(shape, spacing, seed=index)
    lesion = to_image(sphere(shape, spacing, 9.0, (14.0, -2.0, 8.0)), spacing)
    lesion.CopyInformation(t2w)
    spacing, shape = cet1w_grid
    grid = sitk.Image([shape[2], shape[1], shape[0]], sitk.sitkFloat32)
    grid.SetSpacing(spacing)
    half_extent = np.multiply(spacing, [(n - 1) / 2 for n in grid.GetSize()])
    grid.SetOrigin((centre_of(t2w) - half_extent).tolist())
    cet1w = sitk.Resample(t2w, grid, cet1w_motion(index, grid), sitk.sitkLinear, 10.0)
    return {"t2w": t2w, "mask_t2w": lesion, "cet1w": sitk.Cast(400.0 - cet1w, sitk.sitkFloat32)}


def cet1w_motion(index: int, cet1w: sitk.Image) -> sitk.Euler3DTransform:
    """The motion of patient ``index``'s CE-T1W: cet1w(p) = t2w(motion(p)) before contrast.

    So the registration of CE-T1W (moving) onto T2W (fixed) should find its inverse.
    """
    motion = sitk.Euler3DTransform()
    motion.SetCenter(centre_of(cet1w).tolist())
    motion.SetRotation(0.0, 0.0, np.deg2rad(3.0 + index))
    motion.SetTranslation((2.0, -1.5, 1.0))
    return motion


def write_cohort(
    root: Path, patients: list[tuple[str, str]], t2w_grid: Grid, cet1w_grid: Grid
) -> Path:
    """Write each (patient, site)'s volumes under root/raw and a manifest; return its path."""
    rows = []
    for index, (pid, site) in enumerate(patients):
        volumes = two_sequences(index, t2w_grid, cet1w_grid)
        for name, image in volumes.items():
            path = root / "raw" / f"{pid}_{name}.nii.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            sitk.WriteImage(image, str(path))
        rows.append({
            "patient_id": pid, "site": site, "split": "train", "label": index % 2,
            "age": 40 + index, "image_t2w": f"raw/{pid}_t2w.nii.gz",
            "mask_t2w": f"raw/{pid}_mask_t2w.nii.gz", "image_cet1w": f"raw/{pid}_cet1w.nii.gz",
        })  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"
