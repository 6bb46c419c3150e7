"""Shared test fixtures: reference data location, CLI runner, small volumes on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]


def refdata_dir() -> Path | None:
    """The shared reference data folder (../shared/refdata or $RADIOPIPE_REFDATA), if present."""
    env = os.environ.get("RADIOPIPE_REFDATA")
    candidate = Path(env) if env else REPO.parent / "shared" / "refdata"
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def refdata() -> Path:
    """Path to shared/refdata; skips the test with a reason when it is absent."""
    found = refdata_dir()
    if found is None:
        pytest.skip("../shared/refdata is absent (set RADIOPIPE_REFDATA to point at it)")
    return found


@pytest.fixture
def cli() -> Callable[..., object]:
    """Invoke the radiopipe CLI in-process: ``cli("validate", path)`` returns a click Result."""
    from radiopipe.cli import app

    runner = CliRunner()

    def invoke(*args: object) -> object:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


def run_radiopipe(
    *args: object, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python -m radiopipe`` in a subprocess (this checkout's code), capturing output."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "radiopipe", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def write_volume(
    path: Path,
    array: np.ndarray,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> Path:
    """Write a numpy (z, y, x) array as a volume with the given geometry."""
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))
    return path


def sphere_mask(shape: tuple[int, int, int], radius: float, center=None) -> np.ndarray:
    """A binary sphere (uint8) in a (z, y, x) grid."""
    center = center or tuple(s / 2 for s in shape)
    zz, yy, xx = np.indices(shape)
    dist = (zz - center[0]) ** 2 + (yy - center[1]) ** 2 + (xx - center[2]) ** 2
    return (dist <= radius**2).astype(np.uint8)


@pytest.fixture(scope="session")
def synthetic_cohort(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``synthetic_cohort(sites="A:12,B:6", size="tiny", seed=0, **settings)`` -> manifest.

    Each distinct argument set is generated once per session (per xdist worker) into a
    session temporary folder, serially; further keyword arguments go to ``generate_cohort``.
    Treat the returned cohort as read-only: other tests share it.
    """
    from radiopipe.synth import generate_cohort

    cache: dict[tuple, Path] = {}

    def make(sites: object = "A:12,B:6", size: str = "tiny", seed: int = 0, **settings) -> Path:
        key = (repr(sites), size, seed, tuple(sorted((k, repr(v)) for k, v in settings.items())))
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"synth-{size}-{seed}")
            cache[key] = generate_cohort(
                folder, sites=sites, size=size, seed=seed, workers=1, **settings
            )
        return cache[key]

    return make
