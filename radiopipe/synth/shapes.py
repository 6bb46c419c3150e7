"""Irregular ellipsoids and ellipses with an approximate signed distance (mm), for anatomy."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist

FIBONACCI_POINTS = 400


@dataclass(frozen=True)
class Blob:
    """An ellipsoid with low-frequency lobulation of its radius, in patient coordinates (mm).

    The surface is ``|u| = 1 + sum_k a_k cos(v_k . u/|u| + phi_k)`` with ``u`` the point in
    the blob frame divided by the semi-axes. ``rotation`` is row-major 3x3; its columns are the
    blob's axes in patient coordinates.
    """

    center: tuple[float, float, float]
    axes: tuple[float, float, float]
    rotation: tuple[float, ...]
    lobe_vectors: tuple[tuple[float, float, float], ...] = ()
    lobe_phases: tuple[float, ...] = ()
    lobe_amplitudes: tuple[float, ...] = ()

    @property
    def rotation_matrix(self) -> np.ndarray:
        """Rotation as a 3x3 array."""
        return np.asarray(self.rotation, dtype=float).reshape(3, 3)

    @property
    def radius(self) -> float:
        """An upper bound of the distance from the centre to the surface (mm)."""
        return max(self.axes) * (1.0 + float(np.sum(np.abs(self.lobe_amplitudes))))

    def lobulation(self, unit: np.ndarray) -> np.ndarray:
        """Radius factor ``1 + sum_k a_k cos(v_k . d + phi_k)`` for unit directions (..., 3)."""
        return self._lobulation(unit[..., 0], unit[..., 1], unit[..., 2])

    def _lobulation(self, d0: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
        factor = np.ones(np.broadcast_shapes(d0.shape, d1.shape, d2.shape), dtype=d0.dtype)
        for vec, phase, amp in zip(
            self.lobe_vectors, self.lobe_phases, self.lobe_amplitudes, strict=True
        ):
            v0, v1, v2 = (d0.dtype.type(v) for v in vec)
            arg = d0 * v0 + d1 * v1 + d2 * v2 + d0.dtype.type(phase)
            factor += d0.dtype.type(amp) * np.cos(arg)
        return factor

    def signed_distance(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray, band_mm: float | None = None
    ) -> np.ndarray:
        """Approximate signed distance (mm, negative inside) at broadcastable coordinates.

        With ``band_mm``, the lobulation is evaluated only where the surface may lie within
        ``band_mm``; farther points get the distance to the plain ellipsoid (same sign, and
        still farther than ``band_mm`` from the surface), which is all a soft fraction needs.
        """
        rot = self.rotation_matrix.astype(np.float32)
        dx = x - np.float32(self.center[0])
        dy = y - np.float32(self.center[1])
        dz = z - np.float32(self.center[2])
        q = [dx * rot[0, j] + dy * rot[1, j] + dz * rot[2, j] for j in range(3)]
        u = [q[j] / np.float32(self.axes[j]) for j in range(3)]
        rho = np.sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2])
        q_norm = np.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2])
        safe = np.maximum(rho, np.float32(1e-6))
        # Millimetres per unit of rho along the ray from the centre (the local radius scale).
        scale = np.where(rho > 1e-6, q_norm / safe, np.float32(min(self.axes)))
        if not self.lobe_vectors:
            return ((rho - np.float32(1)) * scale).astype(np.float32, copy=False)
        inv = np.float32(1) / safe
        if band_mm is None:
            radius = self._lobulation(u[0] * inv, u[1] * inv, u[2] * inv)
            return ((rho - radius) * scale).astype(np.float32, copy=False)
        distance = (rho - np.float32(1)) * scale
        reach = float(np.sum(np.abs(self.lobe_amplitudes)))
        near = np.abs(rho - 1) * min(self.axes) < reach * max(self.axes) + band_mm
        u0, u1, u2, inv_n = (np.broadcast_to(a, near.shape)[near] for a in (*u, inv))
        radius = self._lobulation(u0 * inv_n, u1 * inv_n, u2 * inv_n)
        distance[near] = (rho[near] - radius) * scale[near]
        return distance.astype(np.float32, copy=False)

    def surface_points(self, n: int = FIBONACCI_POINTS) -> np.ndarray:
        """Points on the surface (n, 3) in patient coordinates."""
        unit = fibonacci_sphere(n)
        radius = self.lobulation(unit) if self.lobe_vectors else np.ones(n)
        local = unit * radius[:, None] * np.asarray(self.axes)
        return local @ self.rotation_matrix.T + np.asarray(self.center)

    def max_diameter(self) -> float:
        """Largest distance between two surface points (maximum Feret diameter), mm."""
        return float(pdist(self.surface_points()).max())


@dataclass(frozen=True)
class Ellipse:
    """An axis-aligned ellipse in the axial plane (x, y mm)."""

    center: tuple[float, float]
    axes: tuple[float, float]

    def signed_distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Approximate signed distance (mm, negative inside)."""
        dx = x - np.float32(self.center[0])
        dy = y - np.float32(self.center[1])
        rho = np.sqrt((dx / self.axes[0]) ** 2 + (dy / self.axes[1]) ** 2)
        norm = np.sqrt(dx * dx + dy * dy)
        scale = np.where(rho > 1e-6, norm / np.maximum(rho, 1e-6), min(self.axes))
        return ((rho - 1.0) * scale).astype(np.float32)


def soft_inside(distance: np.ndarray, width: float) -> np.ndarray:
    """Fraction of a voxel inside a surface (linear ramp of ``width`` mm across it)."""
    return np.clip(np.float32(0.5) - distance / np.float32(width), 0.0, 1.0)


@functools.lru_cache(maxsize=8)
def fibonacci_sphere(n: int) -> np.ndarray:
    """n nearly uniform unit vectors (n, 3); read-only (cached)."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1 - 2 * i / n)
    azimuth = np.pi * (1 + 5**0.5) * i
    points = np.stack(
        [np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], -1
    )
    points.flags.writeable = False
    return points


def random_rotation(rng: np.random.Generator, max_angle_deg: float | None = None) -> np.ndarray:
    """A random rotation: uniform over SO(3), or about a random axis by at most the angle."""
    if max_angle_deg is None:
        q, r = np.linalg.qr(rng.standard_normal((3, 3)))
        q = q * np.sign(np.diag(r))
        if np.linalg.det(q) < 0:
            q[:, 0] = -q[:, 0]
        return q
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rng.uniform(-max_angle_deg, max_angle_deg))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def random_lobes(
    rng: np.random.Generator, count: int, amplitude: tuple[float, float]
) -> dict[str, tuple]:
    """Random lobulation terms (keyword arguments for :class:`Blob`)."""
    directions = rng.standard_normal((count, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    frequencies = rng.uniform(1.0, 3.0, count)
    vectors = directions * frequencies[:, None]
    return {
        "lobe_vectors": tuple(tuple(round(float(v), 9) for v in row) for row in vectors),
        "lobe_phases": tuple(round(float(p), 9) for p in rng.uniform(0, 2 * np.pi, count)),
        "lobe_amplitudes": tuple(round(float(a), 9) for a in rng.uniform(*amplitude, count)),
    }
