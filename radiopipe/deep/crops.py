"""Lesion-centred multi-channel crops: each sequence resampled onto one grid around its lesion."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radiopipe.atomic import atomic_path, write_csv
from radiopipe.cohort.manifest import Cohort
from radiopipe.config import config_hash
from radiopipe.config.deep import CropSettings
from radiopipe.errors import InputError
from radiopipe.imaging import read_image
from radiopipe.progress import track

log = logging.getLogger(__name__)

_INTERPOLATORS = {"linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline}
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Crop:
    """One patient's crop: image (C, z, y, x) float32 and lesion masks (S, z, y, x) uint8."""

    image: np.ndarray
    mask: np.ndarray
    lesion_inside: float  # fraction of the lesion's volume that lies inside the crop


def lesion_centre(mask: sitk.Image, patient: str, file: Path | str) -> tuple[float, ...]:
    """Physical centroid (mm) of all non-zero voxels of a mask."""
    binary = sitk.Cast(mask != 0, sitk.sitkUInt8)
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(binary)
    if not stats.HasLabel(1):
        raise InputError(
            "mask is empty: no lesion to centre the crop on", patient=patient, file=file
        )
    return stats.GetCentroid(1)


def _reference_grid(centre: tuple[float, ...], settings: CropSettings) -> sitk.Image:
    """An axis-aligned grid of ``settings.size`` voxels centred on ``centre``."""
    spacing = np.asarray(settings.spacing_mm, dtype=float)
    half = (np.asarray(settings.size, dtype=float) - 1) / 2 * spacing
    grid = sitk.Image([int(s) for s in settings.size], sitk.sitkUInt8)
    grid.SetSpacing(tuple(spacing))
    grid.SetOrigin(tuple(np.asarray(centre, dtype=float) - half))
    return grid


def _resample(image: sitk.Image, grid: sitk.Image, interpolator: int, pixel: int) -> np.ndarray:
    out = sitk.Resample(image, grid, sitk.Transform(), interpolator, 0.0, pixel)
    return sitk.GetArrayFromImage(out)


def normalise(channel: np.ndarray, settings: CropSettings) -> np.ndarray:
    """Clip to percentiles, then z-score or rescale to [0, 1]; a flat channel becomes zeros."""
    low, high = np.percentile(channel, settings.clip_percentiles)
    clipped = np.clip(channel, low, high)
    if settings.normalise == "percentile":
        span = high - low
        return ((clipped - low) / span if span > 0 else clipped * 0).astype(np.float32)
    std = clipped.std()
    return ((clipped - clipped.mean()) / std if std > 0 else clipped * 0).astype(np.float32)


def crop_patient(cohort: Cohort, patient: str, settings: CropSettings) -> Crop:
    """Resample each sequence around its lesion centroid onto the common crop grid."""
    masks: dict[str, tuple[sitk.Image, Path]] = {}
    for seq in settings.sequences:
        path = cohort.mask_path(patient, seq)
        if path is not None:
            masks[seq] = (read_image(path, patient=patient), path)
    if not masks:
        columns = ", ".join(f"mask_{s}" for s in settings.sequences)
        raise InputError(
            f"no lesion mask for any of {', '.join(settings.sequences)}; the deep models crop "
            f"around the lesion, so the manifest needs {columns} (run `radiopipe segment` first)",
            patient=patient,
        )
    fallback = next(iter(masks))
    channels, lesion_masks, inside = [], [], []
    for seq in settings.sequences:
        image_path = cohort.image_path(patient, seq)
        image = read_image(image_path, patient=patient)
        if image.GetDimension() != 3:
            raise InputError(
                f"expected a 3-D volume, got {image.GetDimension()}-D",
                patient=patient,
                file=image_path,
            )
        mask, mask_path = masks.get(seq, masks[fallback])
        grid = _reference_grid(lesion_centre(mask, patient, mask_path), settings)
        voxels = _resample(image, grid, _INTERPOLATORS[settings.interpolation], sitk.sitkFloat32)
        if not np.isfinite(voxels).all():
            raise InputError(
                "volume holds NaN or infinite values", patient=patient, file=image_path
            )
        channels.append(normalise(voxels, settings))
        binary = sitk.Cast(mask != 0, sitk.sitkUInt8)
        resampled = _resample(binary, grid, sitk.sitkNearestNeighbor, sitk.sitkUInt8)
        lesion_masks.append(resampled)
        inside.append(_inside_fraction(binary, grid))
    if settings.mask_channel:
        channels.append(lesion_masks[0].astype(np.float32))
    crop = Crop(np.stack(channels), np.stack(lesion_masks).astype(np.uint8), float(min(inside)))
    if crop.lesion_inside < 0.9:
        log.warning(
            "patient %s: only %.0f%% of the lesion lies inside the %s mm crop; consider a larger "
            "crop size or spacing",
            patient,
            100 * crop.lesion_inside,
            "x".join(f"{s * d:g}" for s, d in zip(settings.size, settings.spacing_mm, strict=True)),
        )
    return crop


def _inside_fraction(mask: sitk.Image, grid: sitk.Image) -> float:
    """Fraction of the lesion's voxels whose centres fall inside the crop's field of view."""
    voxels = np.argwhere(sitk.GetArrayViewFromImage(mask) > 0)[:, ::-1]  # (x, y, z) indices
    if voxels.size == 0:
        return 0.0
    direction = np.asarray(mask.GetDirection(), dtype=float).reshape(3, 3)
    points = np.asarray(mask.GetOrigin()) + (voxels * np.asarray(mask.GetSpacing())) @ direction.T
    half = np.asarray(grid.GetSpacing()) / 2
    low = np.asarray(grid.GetOrigin()) - half
    high = low + np.asarray(grid.GetSize()) * np.asarray(grid.GetSpacing())
    return float(np.all((points >= low) & (points <= high), axis=1).mean())


class CropStore:
    """Crops cached on disk (one ``.npz`` per patient), rebuilt when inputs or settings change."""

    def __init__(self, root: str | Path, settings: CropSettings, in_memory: bool = False) -> None:
        self.settings = settings
        self.key = config_hash(settings)[:12]
        self.root = Path(root) / self.key
        self._memory: dict[str, Crop] | None = {} if in_memory else None

    def path(self, patient: str) -> Path:
        """Cache file of one patient (a safe file name, unique per patient ID)."""
        digest = hashlib.sha1(patient.encode()).hexdigest()[:8]
        return self.root / f"{_SAFE.sub('_', patient)[:40]}-{digest}.npz"

    def build(self, cohort: Cohort, patients: list[str]) -> pd.DataFrame:
        """Make sure every patient's crop is cached; return one summary row per patient."""
        rows = []
        for patient in track(patients, "Cropping lesions", unit="case"):
            signature = _signature(cohort, patient, self.settings)
            cached = self._read_signature(patient)
            if cached != signature:
                crop = crop_patient(cohort, patient, self.settings)
                self._write(patient, crop, signature)
                if self._memory is not None:
                    self._memory.pop(patient, None)
                inside = crop.lesion_inside
            else:
                inside = float(np.load(self.path(patient))["lesion_inside"])
            rows.append({"patient_id": patient, "lesion_inside": inside})
        summary = pd.DataFrame(rows, columns=["patient_id", "lesion_inside"])
        write_csv(self.root / "crops.csv", summary)
        return summary

    def load(self, patient: str) -> Crop:
        """Read a cached crop (plain arrays; pickled objects are refused), kept in memory
        after the first read when the store was opened ``in_memory``."""
        if self._memory is not None and patient in self._memory:
            return self._memory[patient]
        with np.load(self.path(patient), allow_pickle=False) as data:
            crop = Crop(data["image"], data["mask"], float(data["lesion_inside"]))
        if self._memory is not None:
            self._memory[patient] = crop
        return crop

    def _read_signature(self, patient: str) -> str | None:
        path = self.path(patient)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return str(data["signature"])
        except (OSError, ValueError, KeyError):
            return None

    def _write(self, patient: str, crop: Crop, signature: str) -> None:
        path = self.path(patient)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(
                handle,
                image=crop.image,
                mask=crop.mask,
                lesion_inside=np.float64(crop.lesion_inside),
                signature=np.str_(signature),
            )


def _signature(cohort: Cohort, patient: str, settings: CropSettings) -> str:
    """Identity of a crop's inputs: file paths, sizes and modification times, and settings."""
    parts = [config_hash(settings)]
    for seq in settings.sequences:
        for path in (cohort.image_path(patient, seq), cohort.mask_path(patient, seq)):
            if path is None:
                parts.append("-")
                continue
            try:
                stat = path.stat()
            except OSError:
                raise InputError("file does not exist", patient=patient, file=path) from None
            parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()
