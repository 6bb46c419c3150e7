"""Lesion texture: fibrous whorls, vascular heterogeneity and degenerated patches in 3-D.

The texture is generated once per patient on an isotropic lattice around the lesion (patient
coordinates), then sampled by each sequence's grid, so T2WI and CE-T1WI show the same
degenerated patches in the same places.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.special import expit

from radiopipe.synth.shapes import Blob
from radiopipe.synth.tissues import SIGNAL, LesionTissue

FIBROUS_MM = (1.2, 3.5)  # band-pass scales of the whorled fibrous texture
VASCULAR_MM = 3.0  # scale of the patchy enhancement
DEGENERATION_MM = 5.0  # scale of the degenerated (cystic / necrotic) patches
DEGENERATION_CENTRAL = 1.2  # preference of degeneration for the lesion centre
PATCH_EDGE = 0.15  # softness of patch edges (in units of the patch score)


@dataclass(frozen=True)
class LesionTexture:
    """Relative signal of the lesion interior on an isotropic lattice, per sequence."""

    origin: tuple[float, float, float]  # x, y, z of lattice voxel (0, 0, 0)
    spacing: float
    maps: dict[str, np.ndarray]  # sequence -> (z, y, x) float32 relative signal
    degenerated_fraction: float  # realised fraction of the lesion lattice in patches

    def sample(self, sequence: str, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Trilinear sample of a sequence's map at points (broadcastable arrays, mm)."""
        x, y, z = np.broadcast_arrays(x, y, z)
        coords = np.stack(
            [
                (z - np.float32(self.origin[2])) / np.float32(self.spacing),
                (y - np.float32(self.origin[1])) / np.float32(self.spacing),
                (x - np.float32(self.origin[0])) / np.float32(self.spacing),
            ]
        )
        return ndimage.map_coordinates(self.maps[sequence], coords, order=1, mode="nearest")


def lesion_texture(
    lesion: Blob, tissue: LesionTissue, spacing: float, rng: np.random.Generator
) -> LesionTexture:
    """Generate the lesion's texture maps for both sequences."""
    half = lesion.radius + 2 * spacing
    n = int(np.ceil(2 * half / spacing)) + 1
    origin = tuple(round(c - half, 6) for c in lesion.center)
    axis = [
        np.float32(origin[d]) + np.float32(spacing) * np.arange(n, dtype=np.float32)
        for d in range(3)
    ]
    distance = lesion.signed_distance(
        axis[0][None, None, :], axis[1][None, :, None], axis[2][:, None, None]
    )
    inside = distance < 0

    noise = rng.standard_normal((3, n, n, n), dtype=np.float32)
    fibrous = _band_pass(noise[0], FIBROUS_MM, spacing, inside)
    vascular = _smooth(noise[1], VASCULAR_MM, spacing, inside)
    depth = np.clip(-distance / np.float32(min(lesion.axes)), 0.0, 1.0)
    score = _smooth(noise[2], DEGENERATION_MM, spacing, inside) + DEGENERATION_CENTRAL * depth
    if tissue.degeneration > 1e-3 and inside.any():
        threshold = np.quantile(score[inside], 1.0 - tissue.degeneration)
        patch = expit((score - threshold) / PATCH_EDGE).astype(np.float32)
    else:
        patch = np.zeros_like(score)

    het = np.float32(tissue.heterogeneity)
    solid_t2 = tissue.t2_solid * (1 + het * fibrous)
    solid_ce = tissue.ce_solid * (1 + het * (0.8 * vascular + 0.4 * fibrous))
    maps = {
        "t2w": _mix(solid_t2, SIGNAL["t2w"]["degenerated"], patch),
        "cet1w": _mix(solid_ce, SIGNAL["cet1w"]["degenerated"], patch),
    }
    realised = float(patch[inside].mean()) if inside.any() else 0.0
    return LesionTexture(origin, float(spacing), maps, round(realised, 6))  # type: ignore[arg-type]


def _mix(solid: np.ndarray, degenerated: float, patch: np.ndarray) -> np.ndarray:
    mixed = (1 - patch) * solid + patch * np.float32(degenerated)
    return np.maximum(mixed, np.float32(0.02)).astype(np.float32)


def _smooth(noise: np.ndarray, scale_mm: float, spacing: float, inside: np.ndarray) -> np.ndarray:
    field = ndimage.gaussian_filter(noise, scale_mm / spacing, mode="reflect")
    return _standardise(field, inside)


def _band_pass(
    noise: np.ndarray, scales_mm: tuple[float, float], spacing: float, inside: np.ndarray
) -> np.ndarray:
    fine = ndimage.gaussian_filter(noise, max(scales_mm[0] / spacing, 0.3), mode="reflect")
    coarse = ndimage.gaussian_filter(noise, scales_mm[1] / spacing, mode="reflect")
    return _standardise(fine - coarse, inside)


def _standardise(field: np.ndarray, inside: np.ndarray) -> np.ndarray:
    values = field[inside] if inside.any() else field
    sd = float(values.std()) or 1.0
    return ((field - np.float32(values.mean())) / np.float32(sd)).astype(np.float32)
