"""Pelvic anatomy of one synthetic patient: body, fat, muscle, bones, bladder, uterus, fibroid.

Coordinates are patient millimetres in the ITK (LPS) convention: x to the patient's left,
y posterior, z superior; the uterus centre is the origin. The body is a cylinder along z; the
bladder, uterus, endometrium and lesion are irregular ellipsoids (:class:`Blob`).
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

    body: Ellipse  # outer skin surface
    muscle: Ellipse  # outer surface of the muscle ring (inside the subcutaneous fat)
    cavity: Ellipse  # inner surface of the muscle ring (pelvic cavity, visceral fat)
    psoas: tuple[Ellipse, Ellipse]
    iliac: tuple[Ellipse, Ellipse]
    sacrum: Ellipse
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
    body, muscle, cavity, psoas, iliac, sacrum = _draw_body(rng, fat_mm, uterus, bladder)
    return Anatomy(
        body=body,
        muscle=muscle,
        cavity=cavity,
        psoas=psoas,
        iliac=iliac,
        sacrum=sacrum,
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
) -> tuple[Ellipse, Ellipse, Ellipse, tuple[Ellipse, Ellipse], tuple[Ellipse, Ellipse], Ellipse]:
    """Axial body outline: subcutaneous fat, muscle ring, cavity, psoas, iliac bones, sacrum."""
    muscle_mm = rng.uniform(9, 15)
    front = min(
        bladder.center[1] - bladder.axes[1], uterus.center[1] - uterus.radius
    ) - rng.uniform(6, 16)
    back = uterus.center[1] + uterus.radius
    half_x = rng.uniform(122, 140)
    half_y = max(rng.uniform(84, 98), (back - front) / 2 + 30)
    cy = front + half_y
    cavity = Ellipse((0.0, round(cy, 6)), (round(half_x, 6), round(half_y, 6)))
    muscle = Ellipse(cavity.center, (round(half_x + muscle_mm, 6), round(half_y + muscle_mm, 6)))
    body = Ellipse(
        cavity.center,
        (round(muscle.axes[0] + 1.3 * fat_mm, 6), round(muscle.axes[1] + fat_mm, 6)),
    )
    psoas = tuple(
        Ellipse((round(side * (half_x - 38), 6), round(cy + 12, 6)), (22.0, 17.0))
        for side in (-1, 1)
    )
    iliac = tuple(
        Ellipse((round(side * (half_x - 10), 6), round(cy + 28, 6)), (11.0, 38.0))
        for side in (-1, 1)
    )
    sacrum = Ellipse((0.0, round(cy + half_y - 24, 6)), (36.0, 17.0))
    return body, muscle, cavity, psoas, iliac, sacrum  # type: ignore[return-value]
