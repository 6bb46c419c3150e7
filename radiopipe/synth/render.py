"""Render one patient's sequence on its scanner's grid: anatomy -> contrast -> PSF -> bias -> noise.

Tissue boundaries get partial-volume fractions (sub-slice sampling through the slice, a
one-voxel ramp in plane); the lesion mask holds the voxels at least half inside the lesion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from radiopipe.synth.background import background_signal
from radiopipe.synth.patient import Patient
from radiopipe.synth.scanner import Grid, Scanner, SequenceProtocol, SizePreset, sequence_grid
from radiopipe.synth.shapes import Blob, soft_inside
from radiopipe.synth.texture import LesionTexture, lesion_texture
from radiopipe.synth.tissues import CAPSULE_MM, SIGNAL

SUBSLICE_MM = 2.0  # through-plane sampling step for partial volume (at most 3 samples)
INT16_MAX = 32767
BIAS_NORM_MM = (150.0, 120.0, 100.0)  # coordinate scales of the bias polynomial


@dataclass(frozen=True)
class Rendered:
    """One sequence of one patient: int16 image, uint8 lesion mask, and their grid."""

    sequence: str
    image: np.ndarray  # (z, y, x) int16
    mask: np.ndarray  # (z, y, x) uint8
    grid: Grid
    uterus: np.ndarray | None = None  # (z, y, x) bool, kept only when asked (tests, QC)


def render_patient(
    patient: Patient, scanner: Scanner, size: SizePreset, keep_uterus: bool = False
) -> dict[str, Rendered]:
    """Render both sequences of a patient."""
    texture = lesion_texture(
        patient.anatomy.lesion, patient.tissue, size.texture_mm, patient.rng("texture")
    )
    return {
        seq: render_sequence(patient, scanner, size, seq, texture, keep_uterus)
        for seq in ("t2w", "cet1w")
    }


def render_sequence(
    patient: Patient,
    scanner: Scanner,
    size: SizePreset,
    sequence: str,
    texture: LesionTexture,
    keep_uterus: bool = False,
) -> Rendered:
    """Render one sequence: noise-free tissue signal, then the scanner's imperfections."""
    protocol = scanner.protocol(sequence)
    grid = sequence_grid(protocol, size, np.asarray(patient.fov_center))
    shift = patient.motion_mm if sequence == "cet1w" else (0.0, 0.0, 0.0)
    # Anatomical coordinates of the voxel centres (the patient moved by ``shift``).
    x, y, z = (grid.axis(d) - np.float32(shift[d]) for d in range(3))
    tissue = SIGNAL[sequence]
    width = grid.spacing[0]

    anatomy = patient.anatomy
    signal = background_signal(anatomy, tissue, (x, y, z), width, patient.rng("background"))
    uterus = None
    for blob, value in (
        (anatomy.bladder, tissue["urine"]),
        (anatomy.uterus, tissue["myometrium"]),
        (anatomy.endometrium, tissue["endometrium"]),
    ):
        box = _box(grid, blob, shift, width)
        if box is None:
            continue
        frac = _fraction(blob, x[box[2]], y[box[1]], z[box[0]], grid.spacing[2], width)
        region = signal[box]
        signal[box] = region + frac * (np.float32(value) - region)
        if keep_uterus and blob is anatomy.uterus:
            uterus = np.zeros(grid.shape, bool)
            uterus[box] = frac >= 0.5
    mask = _paint_lesion(signal, grid, patient, texture, sequence, (x, y, z), shift, width)
    center = np.asarray(patient.fov_center)
    image = acquire(signal, grid, center, protocol, patient.rng(sequence))
    return Rendered(sequence, image, mask, grid, uterus)


def acquire(
    signal: np.ndarray,
    grid: Grid,
    center: np.ndarray,
    protocol: SequenceProtocol,
    rng: np.random.Generator,
) -> np.ndarray:
    """The scanner's view of a noise-free signal: contrast, PSF, bias, Rician noise, int16."""
    if protocol.gamma != 1.0:
        signal = np.power(signal, np.float32(protocol.gamma), dtype=np.float32)
    if protocol.blur_vox > 0:
        signal = ndimage.gaussian_filter(signal, (0, protocol.blur_vox, protocol.blur_vox))
    signal = signal * _bias_field(grid, center, protocol, rng)
    sigma = np.float32(1.0 / protocol.snr)
    real = signal + sigma * rng.standard_normal(grid.shape, dtype=np.float32)
    imag = sigma * rng.standard_normal(grid.shape, dtype=np.float32)
    magnitude = np.hypot(real, imag)
    scaled = np.rint(magnitude * np.float32(protocol.scale) + np.float32(protocol.offset))
    return np.clip(scaled, 0, INT16_MAX).astype(np.int16)


def _box(
    grid: Grid, blob: Blob, shift: tuple[float, float, float], margin: float
) -> tuple[slice, slice, slice] | None:
    """Voxel index box (z, y, x) around a blob, in the grid of a shifted patient."""
    reach = blob.radius + margin + grid.spacing[2]
    ranges = [
        grid.index_range(d, blob.center[d] + shift[d] - reach, blob.center[d] + shift[d] + reach)
        for d in range(3)
    ]
    if any(r.stop <= r.start for r in ranges):
        return None
    return ranges[2], ranges[1], ranges[0]


def _subslice_offsets(slice_mm: float) -> np.ndarray:
    count = int(np.clip(np.ceil(slice_mm / SUBSLICE_MM), 1, 3))
    return (((np.arange(count) + 0.5) / count - 0.5) * slice_mm).astype(np.float32)


def _fraction(
    blob: Blob, x: np.ndarray, y: np.ndarray, z: np.ndarray, slice_mm: float, width: float
) -> np.ndarray:
    """Partial-volume fraction of a blob in each voxel of a box."""
    offsets = _subslice_offsets(slice_mm)
    total = np.zeros((z.size, y.size, x.size), np.float32)
    for off in offsets:
        zz = (z + off)[:, None, None]
        distance = blob.signed_distance(x[None, None, :], y[None, :, None], zz, band_mm=width)
        total += soft_inside(distance, width)
    return total / np.float32(len(offsets))


def _paint_lesion(
    signal: np.ndarray,
    grid: Grid,
    patient: Patient,
    texture: LesionTexture,
    sequence: str,
    coords: tuple[np.ndarray, np.ndarray, np.ndarray],
    shift: tuple[float, float, float],
    width: float,
) -> np.ndarray:
    """Paint the textured lesion and its capsule into ``signal``; return the lesion mask."""
    lesion = patient.anatomy.lesion
    mask = np.zeros(grid.shape, np.uint8)
    box = _box(grid, lesion, shift, width + CAPSULE_MM)
    if box is None:
        return mask
    x, y, z = coords[0][box[2]], coords[1][box[1]], coords[2][box[0]]
    xx, yy = x[None, None, :], y[None, :, None]
    offsets = _subslice_offsets(grid.spacing[2])
    inside = np.zeros((z.size, y.size, x.size), np.float32)
    weighted = np.zeros_like(inside)
    capsule = np.zeros_like(inside)
    for off in offsets:
        zz = (z + off)[:, None, None]
        distance = lesion.signed_distance(xx, yy, zz, band_mm=width + CAPSULE_MM)
        frac = soft_inside(distance, width)
        inside += frac
        weighted += frac * texture.sample(sequence, xx, yy, zz)
        capsule += soft_inside(distance - np.float32(CAPSULE_MM), width) - frac
    n = np.float32(len(offsets))
    inside, weighted, capsule = inside / n, weighted / n, capsule / n
    region = signal[box]
    outside = np.float32(1) - inside - capsule
    signal[box] = outside * region + capsule * np.float32(SIGNAL[sequence]["capsule"]) + weighted
    mask[box] = inside >= 0.5
    return mask


def _bias_field(grid: Grid, center: np.ndarray, protocol, rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative field: random quadratic polynomial plus the coil profile."""
    x, y, z = (
        (grid.axis(d) - np.float32(center[d])) / np.float32(BIAS_NORM_MM[d]) for d in range(3)
    )
    xx, yy, zz = x[None, None, :], y[None, :, None], z[:, None, None]
    c = rng.normal(0.0, protocol.bias_sd, 9).astype(np.float32)
    log_bias = (
        c[0] * xx + c[1] * yy + c[2] * zz
        + c[3] * xx * xx + c[4] * yy * yy + c[5] * zz * zz
        + c[6] * xx * yy + c[7] * xx * zz + c[8] * yy * zz
        + np.float32(protocol.coil) * (yy * yy - np.float32(0.3))
    )  # fmt: skip
    return np.exp(log_bias).astype(np.float32)
