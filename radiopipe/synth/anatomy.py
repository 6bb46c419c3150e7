"""Pelvic anatomy of one synthetic patient: body, bones, bowel, bladder, uterus and fibroid.

Coordinates are patient millimetres in the ITK (LPS) convention: x to the patient's left,
y posterior, z superior; the uterus centre is the origin. The body is a cylinder along z
(subcutaneous fat, a muscle wall thin in front and thick behind, the pelvic cavity with bowel,
rectum, psoas, iliac vessels, iliac bones and sacrum); the bladder, uterus, endometrium and
lesion are irregular ellipsoids (:class:`Blob`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radiopipe.synth.shapes import Blob, Ellipse, random_lobes, random_rotation

LESION_DIAMETER_MM = (30.0, 80.0)
WALL_MARGIN_MM = 6.0  # myometrium left around the lesion at its thinnest


@dataclass(frozen=True)
class Anatomy:
    """Geometry of one patient (everything in mm)."""

    layers: tuple[tuple[Ellipse, str], ...]  # axial body cross-section, painted in order
    cavity: Ellipse  # the pelvic cavity (visceral fat with bowel loops)
    bladder: Blob
    uterus: Blob
    endometrium: Blob
    lesion: Blob
    fat_mm: float  # anterior subcutaneous fat thickness
    lesion_diameter_mm: float  # maximum Feret diameter of the lesion surface (as drawn)


def draw_anatomy(rng: np.random.Generator, fat_mm: float, diameter_mm: float) -> Anatomy:
    """Draw a pelvis holding a fibroid of the given maximum diameter and the given fat layer."""
    lesion = _draw_lesion(rng, diameter_mm)
    uterus = _draw_uterus(rng, lesion)
    endometrium = _draw_endometrium(uterus)
    bladder = _draw_bladder(rng, uterus)
    layers = _draw_body(rng, fat_mm, uterus, bladder)
    return Anatomy(
        layers=layers,
        cavity=next(shape for shape, tissue in layers if tissue == "visceral_fat"),
        bladder=bladder,
        uterus=uterus,
        endometrium=endometrium,
        lesion=lesion,
        fat_mm=fat_mm,
        lesion_diameter_mm=round(float(diameter_mm), 6),
    )


def _round(values: np.ndarray | list[float]) -> tuple[float, ...]:
    return tuple(round(float(v), 6) for v in np.ravel(values))


def _draw_lesion(rng: np.random.Generator, diameter_mm: float) -> Blob:
    """An irregular ellipsoid scaled so that its maximum Feret diameter is ``diameter_mm``."""
    ratios = np.array([1.0, rng.uniform(0.78, 1.0), rng.uniform(0.72, 1.0)])
    rotation = random_rotation(rng)
    lobes = random_lobes(rng, 6, (0.012, 0.04))
    # The lesion sits in the anterior wall of the uterus (a HIFU inclusion criterion).
    offset = rng.uniform(-0.15, 0.15, 3)
    unit = Blob((0.0, 0.0, 0.0), _round(ratios), _round(rotation), **lobes)
    scale = diameter_mm / unit.max_diameter()
    axes = ratios * scale
    center = np.array(
        [offset[0] * axes[0], -0.25 * axes.mean() + offset[1] * 10, offset[2] * axes[2]]
    )
    return Blob(_round(center), _round(axes), _round(rotation), **lobes)


def _draw_uterus(rng: np.random.Generator, lesion: Blob) -> Blob:
    """A slightly tilted uterus around the origin, enlarged until it holds the lesion."""
    base = np.array([rng.uniform(38, 48), rng.uniform(27, 35), rng.uniform(40, 52)])
    rotation = random_rotation(rng, max_angle_deg=15.0)
    lobes = random_lobes(rng, 4, (0.005, 0.015))
    slack = 1.0 - float(np.sum(lobes["lobe_amplitudes"]))
    # Lesion surface pushed out by the wall margin, in the uterus frame.
    points = lesion.surface_points()
    center = np.asarray(lesion.center)
    radial = points - center
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    local = (points + WALL_MARGIN_MM * radial) @ rotation
    needed = np.sqrt(((local / (base * slack)) ** 2).sum(1).max())
    axes = base * max(1.0, float(needed) * 1.03)
    return Blob((0.0, 0.0, 0.0), _round(axes), _round(rotation), **lobes)


def _draw_endometrium(uterus: Blob) -> Blob:
    """A thin central stripe behind the lesion, in the uterus frame."""
    rot = uterus.rotation_matrix
    axes = np.asarray(uterus.axes)
    center = rot @ np.array([0.0, 0.35 * axes[1], 0.0])
    return Blob(_round(center), _round([0.35 * axes[0], 3.5, 0.6 * axes[2]]), uterus.rotation)


def _draw_bladder(rng: np.random.Generator, uterus: Blob) -> Blob:
    """A partly filled bladder anterior and inferior to the uterus."""
    axes = np.array([rng.uniform(35, 55), rng.uniform(20, 32), rng.uniform(22, 36)])
    u_axes = np.asarray(uterus.axes)
    center = np.array(
        [
            rng.uniform(-8, 8),
            -(0.55 * u_axes[1] + 0.6 * axes[1]),
            -(0.7 * u_axes[2] + 0.3 * axes[2]),
        ]
    )
    lobes = random_lobes(rng, 3, (0.01, 0.03))
    return Blob(_round(center), _round(axes), _round(np.eye(3)), **lobes)


def _draw_body(
    rng: np.random.Generator, fat_mm: float, uterus: Blob, bladder: Blob
) -> tuple[tuple[Ellipse, str], ...]:
    """Axial cross-section as (ellipse, tissue) layers painted in order, outermost first."""
    front = min(bladder.center[1] - bladder.axes[1], uterus.center[1] - uterus.radius)
    front -= rng.uniform(6, 14)
    back = float(uterus.surface_points()[:, 1].max())
    half_x = rng.uniform(105, 120)
    half_y = max(rng.uniform(70, 82), (back + 40 - front) / 2)
    cy = front + half_y
    anterior, posterior, lateral = rng.uniform(8, 14), rng.uniform(35, 50), rng.uniform(25, 40)
    wall_cy = cy + (posterior - anterior) / 2
    wall = (half_x + lateral, half_y + (anterior + posterior) / 2)
    layers: list[tuple[Ellipse, str]] = [
        (_ellipse(0, wall_cy, wall[0] + 1.3 * fat_mm, wall[1] + fat_mm), "subcutaneous_fat"),
        (_ellipse(0, wall_cy, *wall), "muscle"),
        (_ellipse(0, cy, half_x, half_y), "visceral_fat"),
        (_ellipse(0, cy + half_y + 0.4 * posterior, 38, 0.3 * posterior + 6), "bone_marrow"),
        (_ellipse(rng.uniform(-6, 6), back + 18, 17, 13), "bowel"),  # rectum
        (_ellipse(rng.uniform(-3, 3), back + 18, 8, 5), "gas"),
    ]
    for side in (-1, 1):
        layers += [
            (
                _ellipse(side * (half_x + 0.45 * lateral), cy + 0.2 * half_y, 9, 0.55 * half_y),
                "bone_marrow",
            ),
            (_ellipse(side * (half_x - 22), cy + 0.1 * half_y, 17, 15), "muscle"),  # psoas
            (_ellipse(side * (half_x - 44), cy - 0.05 * half_y, 4.5, 4.5), "artery"),
            (_ellipse(side * (half_x - 52), cy, 6.5, 5), "vein"),
        ]
    return tuple(layers)


def _ellipse(x: float, y: float, half_x: float, half_y: float) -> Ellipse:
    return Ellipse(
        (round(float(x), 6), round(float(y), 6)), (round(float(half_x), 6), round(float(half_y), 6))
    )
