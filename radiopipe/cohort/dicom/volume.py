"""Turn a checked series (single-frame or enhanced multi-frame) into a SimpleITK image.

highdicom builds the volume (slice order, orientation, pixel transforms); a series whose
slices are irregular is stacked and resampled onto uniform slices only when a rule allows it.
"""

from __future__ import annotations

import numpy as np
import pydicom
import SimpleITK as sitk

from radiopipe.cohort.dicom.geometry import Geometry
from radiopipe.cohort.dicom.scan import SeriesInfo
from radiopipe.errors import InputError


def volume_to_image(array: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """A (slice, row, column) array with a highdicom/LPS index affine as a SimpleITK image.

    Slices are ordered along the normal row x column (a right-handed grid, as scanners and
    NIfTI writers store it): highdicom may return them the other way round.
    """
    normal = np.cross(affine[:3, 2], affine[:3, 1])
    if array.shape[0] > 1 and float(np.dot(normal, affine[:3, 0])) < 0:
        affine = affine.copy()
        affine[:3, 3] = affine[:3, 3] + (array.shape[0] - 1) * affine[:3, 0]
        affine[:3, 0] = -affine[:3, 0]
        array = array[::-1]
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    steps = [affine[:3, 2], affine[:3, 1], affine[:3, 0]]  # x = column, y = row, z = slice
    spacing = [float(np.linalg.norm(s)) for s in steps]
    direction = np.stack([s / n for s, n in zip(steps, spacing, strict=True)], axis=1)
    image.SetSpacing(spacing)
    image.SetOrigin(tuple(float(v) for v in affine[:3, 3]))
    image.SetDirection(tuple(float(v) for v in direction.ravel()))
    return image


def read_series(info: SeriesInfo, geometry: Geometry, resample: bool = False) -> sitk.Image:
    """The series as an image on its own grid; irregular slices need ``resample``."""
    import highdicom as hd

    if geometry.problems or (geometry.spacing_problems and not resample):
        raise InputError(
            "cannot convert " + info.label() + ": "
            + "; ".join(geometry.problems + geometry.spacing_problems),
            patient=info.patient,
        )  # fmt: skip
    if geometry.spacing_problems:
        return _resampled(info, geometry)
    if info.kind == "enhanced":
        image = hd.imread(str(info.files[0]))
        volume = image.get_volume(dtype=np.float64)
        stored = image.pixel_array.dtype if _identity_rescale(image) else None
    else:
        datasets = [pydicom.dcmread(f.path) for f in geometry.frames]
        volume = hd.get_volume_from_series(datasets, dtype=np.float64)
        stored = datasets[0].pixel_array.dtype if _identity_rescale(datasets[0]) else None
    return volume_to_image(_cast(volume.array, stored), volume.affine)


def _identity_rescale(ds: pydicom.Dataset) -> bool:
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is None and intercept is None:
        groups = ds.get("SharedFunctionalGroupsSequence")
        transform = groups[0].get("PixelValueTransformationSequence") if groups else None
        if transform:
            slope = transform[0].get("RescaleSlope")
            intercept = transform[0].get("RescaleIntercept")
    return float(slope if slope is not None else 1) == 1 and float(intercept or 0) == 0


def _cast(array: np.ndarray, stored: np.dtype | None) -> np.ndarray:
    """Keep stored integers as integers when no rescale changed them; else float32."""
    if stored is not None and np.issubdtype(stored, np.integer):
        return array.astype(stored)
    return array.astype(np.float32)


def _resampled(info: SeriesInfo, geometry: Geometry) -> sitk.Image:
    """Stack irregular slices and interpolate linearly onto uniform steps along the normal."""
    planes = []
    for frame in geometry.frames:
        ds = pydicom.dcmread(frame.path)
        pixels = ds.pixel_array if frame.frame == 0 else ds.pixel_array[frame.frame - 1]
        slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
        planes.append(pixels.astype(np.float32) * slope + intercept)
    stack = np.stack(planes)
    positions = geometry.positions
    step = geometry.step_mm
    n = round(float(positions[-1] - positions[0]) / step) + 1
    targets = positions[0] + step * np.arange(n)
    upper = np.clip(np.searchsorted(positions, targets, side="right"), 1, len(positions) - 1)
    lower = upper - 1
    weight = ((targets - positions[lower]) / (positions[upper] - positions[lower]))[:, None, None]
    array = (1 - weight) * stack[lower] + weight * stack[upper]
    orientation = np.array(geometry.frames[0].orientation, dtype=float)
    row_dir, col_dir = orientation[:3], orientation[3:6]
    normal = np.cross(row_dir, col_dir)
    row_mm, col_mm = geometry.pixel_spacing
    affine = np.eye(4)
    affine[:3, 0] = normal * step
    affine[:3, 1] = col_dir * row_mm
    affine[:3, 2] = row_dir * col_mm
    affine[:3, 3] = geometry.frames[0].position
    return volume_to_image(array.astype(np.float32), affine)
