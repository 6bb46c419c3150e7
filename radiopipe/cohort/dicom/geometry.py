"""Check a series' slice geometry from its headers: order, spacing, gaps, tilt, orientations."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from radiopipe.cohort.dicom.scan import Frame

ORIENTATION_ATOL = 1e-4  # direction cosines
POSITION_ATOL_MM = 1e-3  # duplicate positions, in-plane shear
SPACING_RTOL = 1e-3  # slice step uniformity (relative to the median step)
SPACING_ATOL_MM = 1e-3


@dataclass
class Geometry:
    """What the headers say about a series' grid; ``problems`` empty means a regular volume."""

    frames: list[Frame]  # sorted along the slice normal
    rows: int = 0
    columns: int = 0
    orientation: str = ""  # AX / COR / SAG / OBL or 'mixed'
    pixel_spacing: tuple[float, float] = (0.0, 0.0)  # (row spacing, column spacing)
    step_mm: float = 0.0  # median distance between slices
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0))  # along the normal
    problems: list[str] = field(default_factory=list)  # never resampled away
    spacing_problems: list[str] = field(default_factory=list)  # resampled only if allowed

    @property
    def n_slices(self) -> int:
        """Number of image planes."""
        return len(self.frames)

    def spacing_text(self) -> str:
        """'0.90 x 0.90 x 6.00 mm' for tables."""
        row, col = self.pixel_spacing
        return f"{col:.2f} x {row:.2f} x {self.step_mm:.2f} mm"


def plane_name(orientation: tuple[float, ...]) -> str:
    """AX, COR, SAG or OBL from the slice normal (the dominant axis within 10 degrees)."""
    normal = np.abs(np.cross(orientation[:3], orientation[3:6]))
    axis = int(np.argmax(normal))
    if normal[axis] < np.cos(np.radians(10)):
        return "OBL"
    return ("SAG", "COR", "AX")[axis]


def check_geometry(frames: list[Frame]) -> Geometry:
    """Sort the planes along their normal and list every irregularity."""
    geometry = Geometry(frames=list(frames))
    if not frames:
        geometry.problems.append("holds no image planes")
        return geometry
    if any(f.position is None or f.orientation is None for f in frames):
        geometry.problems.append("some planes lack ImagePositionPatient/ImageOrientationPatient")
        return geometry
    sizes = {(f.rows, f.columns) for f in frames}
    geometry.rows, geometry.columns = frames[0].rows, frames[0].columns
    if len(sizes) > 1:
        geometry.problems.append(f"planes of different sizes {sorted(sizes)}")
    spacings = {f.pixel_spacing for f in frames}
    first = frames[0].pixel_spacing or (1.0, 1.0)
    geometry.pixel_spacing = (float(first[0]), float(first[1]))
    if len(spacings) > 1:
        geometry.problems.append(
            f"planes with different pixel spacings {sorted(map(str, spacings))}"
        )
    orientations = np.array([f.orientation for f in frames], dtype=float)
    distinct = _distinct(orientations)
    if len(distinct) > 1:
        names = ", ".join(sorted({plane_name(tuple(o)) for o in distinct}))
        geometry.orientation = "mixed"
        geometry.problems.append(f"mixed orientations ({len(distinct)} distinct: {names})")
        return geometry
    orientation = orientations[0]
    geometry.orientation = plane_name(tuple(orientation))
    normal = np.cross(orientation[:3], orientation[3:6])
    positions = np.array([f.position for f in frames], dtype=float)
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    geometry.frames = [frames[i] for i in order]
    geometry.positions = along[order]
    if len(frames) < 2:
        geometry.step_mm = float(first[0])
        return geometry
    _check_steps(geometry, positions[order], normal)
    return geometry


def _distinct(orientations: np.ndarray) -> list[np.ndarray]:
    distinct: list[np.ndarray] = []
    for o in orientations:
        if not any(np.allclose(o, d, atol=ORIENTATION_ATOL) for d in distinct):
            distinct.append(o)
    return distinct


def _check_steps(geometry: Geometry, positions: np.ndarray, normal: np.ndarray) -> None:
    steps = np.diff(geometry.positions)
    duplicates = int((steps < POSITION_ATOL_MM).sum())
    if duplicates:
        geometry.problems.append(
            f"{duplicates} plane(s) repeat a position (several acquisitions in one series?)"
        )
        return
    step = float(np.median(steps))
    geometry.step_mm = step
    tol = SPACING_ATOL_MM + SPACING_RTOL * step
    irregular = np.abs(steps - step) > tol
    if irregular.any():
        multiples = np.round(steps / step)
        gaps = irregular & (multiples >= 2) & (np.abs(steps - multiples * step) <= tol)
        missing = int((multiples[gaps] - 1).sum())
        if missing:
            at = ", ".join(f"{geometry.positions[i]:.1f}" for i in np.flatnonzero(gaps)[:5])
            geometry.spacing_problems.append(
                f"{missing} missing slice(s) (gaps after {at} mm along the normal; "
                f"step {step:.3g} mm)"
            )
        other = irregular & ~gaps
        if other.any():
            geometry.spacing_problems.append(
                f"non-uniform slice spacing ({steps.min():.3g}-{steps.max():.3g} mm, "
                f"median {step:.3g} mm)"
            )
    shear = positions[1:] - positions[:-1] - np.outer(steps, normal)
    lateral = np.linalg.norm(shear, axis=1)
    if (lateral > POSITION_ATOL_MM + 1e-3 * np.abs(steps)).any():
        angle = np.degrees(np.arctan2(float(np.max(lateral)), float(steps[np.argmax(lateral)])))
        geometry.problems.append(f"gantry tilt / sheared slices ({angle:.1f} degrees)")
