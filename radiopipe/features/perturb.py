"""Mask perturbations for feature robustness: erosion, dilation, random contour changes.

They stand in for a second reader when the manifest has no second segmentation (after
Zwanenburg et al., Sci Rep 2019: volume adaptation and contour randomisation). Sizes are in
millimetres, so "one voxel" at the paper's 1 mm resampling is ``radius_mm = 1``; along axes
coarser than the radius (thick slices) the mask is left as it is. Distances are physical
(voxel centre to voxel centre), so the same radius means the same thing on any grid.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy.ndimage import distance_transform_edt, gaussian_filter

from radiopipe.config.extraction import PerturbationSettings
from radiopipe.imaging import read_image, write_image


def variants(settings: PerturbationSettings) -> list[str]:
    """Names of the perturbed masks, in rater order: erode, dilate, contour1, contour2, ..."""
    return ["erode", "dilate"] + [f"contour{i + 1}" for i in range(settings.contour_repeats)]


def effective_radius(spacing: tuple[float, ...], radius_mm: float) -> float:
    """The radius used: ``radius_mm``, but at least one voxel along the finest axis."""
    return max(radius_mm, min(spacing))


def binary(mask: sitk.Image, label: int) -> sitk.Image:
    """The voxels of ``label`` as a 0/1 UInt8 image on the same grid."""
    return sitk.Cast(sitk.Equal(mask, label), sitk.sitkUInt8)


def erode(mask: sitk.Image, label: int, radius_mm: float) -> sitk.Image:
    """The ROI without voxels closer than ``radius_mm`` to the background (centre to centre)."""
    return _morphology(mask, label, radius_mm, grow=False)


def dilate(mask: sitk.Image, label: int, radius_mm: float) -> sitk.Image:
    """The ROI plus background voxels within ``radius_mm`` of it (centre to centre)."""
    return _morphology(mask, label, radius_mm, grow=True)


def _morphology(mask: sitk.Image, label: int, radius_mm: float, grow: bool) -> sitk.Image:
    roi = sitk.GetArrayFromImage(mask) == label
    spacing_zyx = np.array(mask.GetSpacing()[::-1])
    radius = effective_radius(mask.GetSpacing(), radius_mm)
    box = _box(roi, np.ceil(radius / spacing_zyx).astype(int) + 1)
    out = np.zeros_like(roi)
    if box is not None:
        crop = roi[box]
        if grow:
            out[box] = crop | (distance_transform_edt(~crop, sampling=spacing_zyx) <= radius + 1e-6)
        else:
            padded = np.pad(crop, 1)  # the crop's edge is background for the distance
            inside = distance_transform_edt(padded, sampling=spacing_zyx)[1:-1, 1:-1, 1:-1]
            out[box] = inside > radius + 1e-6
    image = sitk.GetImageFromArray(out.astype(np.uint8))
    image.CopyInformation(mask)
    return _labelled(image, label)


def _box(roi: np.ndarray, margin: np.ndarray) -> tuple[slice, ...] | None:
    """Bounding box of ``roi`` grown by ``margin`` voxels per axis (None if empty)."""
    found = np.argwhere(roi)
    if not len(found):
        return None
    lo = np.maximum(found.min(axis=0) - margin, 0)
    hi = np.minimum(found.max(axis=0) + margin + 1, roi.shape)
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))


def random_contour(
    mask: sitk.Image,
    label: int,
    amplitude_mm: float,
    smoothness_mm: float,
    rng: np.random.Generator,
) -> sitk.Image:
    """The ROI with its boundary moved by a smooth random field (sd ``amplitude_mm``).

    The field is Gaussian noise smoothed over ``smoothness_mm`` and scaled to the amplitude;
    the new ROI is where the signed distance to the boundary is below the field. The largest
    connected component is kept.
    """
    roi = sitk.GetArrayFromImage(binary(mask, label)).astype(bool)
    if not roi.any():
        return _labelled(binary(mask, label), label)
    spacing_zyx = np.array(mask.GetSpacing()[::-1])
    box = _box(roi, np.ceil(4 * amplitude_mm / spacing_zyx).astype(int) + 2)
    crop = sitk.GetImageFromArray(roi[box].astype(np.uint8))
    crop.SetSpacing(mask.GetSpacing())
    distance = sitk.GetArrayFromImage(
        sitk.SignedMaurerDistanceMap(crop, insideIsPositive=False, useImageSpacing=True)
    )
    noise = gaussian_filter(rng.standard_normal(distance.shape), smoothness_mm / spacing_zyx)
    noise *= amplitude_mm / (noise.std() or 1.0)
    moved = np.zeros_like(roi)
    moved[box] = distance < noise
    out = sitk.GetImageFromArray(moved.astype(np.uint8))
    out.CopyInformation(mask)
    return _labelled(_largest_component(out), label)


def make_perturbed(
    mask_path: str | Path,
    out_dir: str | Path,
    patient_id: str,
    sequence: str,
    label: int,
    settings: PerturbationSettings,
    source_sha256: str,
) -> dict[str, Path]:
    """Write each perturbed mask once (named by its inputs) and return variant -> path."""
    out_dir = Path(out_dir)
    paths = {
        v: out_dir / f"{sequence}_{v}_{_stamp(source_sha256, label, settings, v)}.nii.gz"
        for v in variants(settings)
    }
    todo = [v for v, p in paths.items() if not p.is_file()]
    if not todo:
        return paths
    mask = read_image(mask_path, patient=patient_id)
    for name in todo:
        write_image(_perturb(mask, name, label, settings, patient_id, sequence), paths[name])
    return paths


def _perturb(
    mask: sitk.Image,
    name: str,
    label: int,
    settings: PerturbationSettings,
    patient_id: str,
    sequence: str,
) -> sitk.Image:
    if name == "erode":
        return erode(mask, label, settings.radius_mm)
    if name == "dilate":
        return dilate(mask, label, settings.radius_mm)
    repeat = int(name.removeprefix("contour"))
    rng = np.random.default_rng([settings.seed, _int_hash(patient_id, sequence), repeat])
    return random_contour(
        mask, label, settings.contour_amplitude_mm, settings.contour_smoothness_mm, rng
    )


def _labelled(binary_image: sitk.Image, label: int) -> sitk.Image:
    pixel = sitk.sitkUInt8 if label <= 255 else sitk.sitkUInt32
    out = sitk.Cast(binary_image, pixel)
    return out if label == 1 else out * int(label)


def _largest_component(image: sitk.Image) -> sitk.Image:
    components = sitk.RelabelComponent(sitk.ConnectedComponent(image), sortByObjectSize=True)
    return sitk.Cast(sitk.Equal(components, 1), sitk.sitkUInt8)


def _int_hash(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest()[:8], "little")


def _stamp(source_sha256: str, label: int, settings: PerturbationSettings, variant: str) -> str:
    """Short hash of what a perturbed mask depends on (its file name, so reruns reuse it)."""
    if variant in ("erode", "dilate"):
        depends = {"radius_mm": settings.radius_mm}
    else:
        depends = settings.model_dump(exclude={"radius_mm", "contour_repeats"})
    text = f"{source_sha256}|{label}|{sorted(depends.items())}|{variant}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]
