"""The body around the uterus: axial layers (fat, muscle, bones, vessels, rectum) and bowel loops.

The layers are a cylinder along z, painted in 2-D and composited once into the volume; the
bowel loops are a smooth random pattern in the pelvic cavity that drifts from slice to slice.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.special import expit

from radiopipe.synth.anatomy import Anatomy
from radiopipe.synth.shapes import soft_inside

BOWEL_LATTICE_MM = 3.0
BOWEL_SCALE_MM = 7.0  # size of the loops in plane
BOWEL_PERIOD_MM = 60.0  # distance over which the pattern turns over through the slices
BOWEL_LEVEL, BOWEL_EDGE = 0.3, 0.25  # threshold and softness of the loop pattern
BOWEL_MARGIN_MM = 6.0  # fat kept between the bowel and the cavity wall
BASE_LAYERS = 3  # subcutaneous fat, muscle wall, cavity: painted before the bowel


def background_signal(
    anatomy: Anatomy,
    tissue: dict[str, float],
    axes: tuple[np.ndarray, np.ndarray, np.ndarray],
    width: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Relative signal (z, y, x) of everything outside the bladder and uterus."""
    x, y, z = axes
    xx, yy = x[None, :], y[:, None]
    base = np.zeros((y.size, x.size), np.float32)
    for shape, name in anatomy.layers[:BASE_LAYERS]:
        frac = soft_inside(shape.signed_distance(xx, yy), width)
        base += frac * (np.float32(tissue[name]) - base)
    signal = np.broadcast_to(base, (z.size, *base.shape)).copy()

    inner = soft_inside(anatomy.cavity.signed_distance(xx, yy) + BOWEL_MARGIN_MM, width)
    loops = _bowel_loops(anatomy, x, y, z, rng) * inner[None]
    signal += loops * (np.float32(tissue["bowel"]) - signal)

    keep = np.ones_like(base)  # composite the remaining layers in 2-D, apply once in 3-D
    add = np.zeros_like(base)
    for shape, name in anatomy.layers[BASE_LAYERS:]:
        frac = soft_inside(shape.signed_distance(xx, yy), width)
        keep *= 1 - frac
        add = add * (1 - frac) + frac * np.float32(tissue[name])
    signal *= keep[None]
    signal += add[None]
    return signal


def _bowel_loops(
    anatomy: Anatomy, x: np.ndarray, y: np.ndarray, z: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Fraction (z, y, x) of bowel in each voxel, from two smooth fields mixed along z."""
    cavity = anatomy.cavity
    lo = np.array(cavity.center) - np.array(cavity.axes) - 2 * BOWEL_SCALE_MM
    n = np.ceil(2 * (np.array(cavity.axes) + 2 * BOWEL_SCALE_MM) / BOWEL_LATTICE_MM).astype(int) + 1
    noise = rng.standard_normal((2, n[1], n[0]), dtype=np.float32)
    fields = []
    for k in range(2):
        field = ndimage.gaussian_filter(noise[k], BOWEL_SCALE_MM / BOWEL_LATTICE_MM)
        field /= np.float32(field.std() or 1.0)
        iy = np.broadcast_to(((y - lo[1]) / BOWEL_LATTICE_MM)[:, None], (y.size, x.size))
        ix = np.broadcast_to(((x - lo[0]) / BOWEL_LATTICE_MM)[None, :], (y.size, x.size))
        fields.append(ndimage.map_coordinates(field, [iy, ix], order=1, mode="nearest"))
    phase = np.float32(2 * np.pi / BOWEL_PERIOD_MM) * z
    mixed = (
        fields[0][None] * np.cos(phase)[:, None, None]
        + fields[1][None] * np.sin(phase)[:, None, None]
    )
    return expit((mixed - np.float32(BOWEL_LEVEL)) / np.float32(BOWEL_EDGE)).astype(np.float32)
