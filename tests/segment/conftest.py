"""Small phantom cohorts for the segmentation tests: textured ellipsoid lesions, two grids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

# Per sequence: grid (size x, y, z), spacing mm, origin offset, lesion / organ / fat means.
GRIDS = {
    "t2w": ((40, 40, 10), (1.6, 1.6, 4.0), (0.0, 0.0, 0.0), 0.25, 0.55, 0.9),
    "cet1w": ((36, 36, 9), (1.8, 1.8, 4.5), (0.7, -0.9, 1.1), 0.8, 0.45, 0.7),
}
FIELD_MM = 64.0


def _grid_points(size, spacing, origin) -> np.ndarray:
    """Physical (x, y, z) of every voxel, arrays shaped (z, y, x)."""
    zz, yy, xx = np.meshgrid(*[np.arange(n) for n in size[::-1]], indexing="ij")
    return np.stack([origin[0] + xx * spacing[0], origin[1] + yy * spacing[1],
                     origin[2] + zz * spacing[2]])  # fmt: skip


def _ellipsoid(points: np.ndarray, centre, radii) -> np.ndarray:
    d = sum(((points[i] - centre[i]) / radii[i]) ** 2 for i in range(3))
    return d <= 1.0


def phantom_patient(rng: np.random.Generator, sequences=("t2w", "cet1w")) -> dict:
    """Images and masks (sitk) of one patient: organ ellipsoid holding a textured lesion."""
    lesion_c = rng.uniform([22, 22, 14], [42, 42, 24])
    lesion_r = rng.uniform([7, 7, 6], [13, 13, 10])
    organ_c = lesion_c + rng.uniform(-4, 4, 3)
    organ_r = lesion_r + rng.uniform([6, 6, 5], [12, 12, 8])
    out = {}
    for seq in sequences:
        size, spacing, origin, lesion_mu, organ_mu, fat_mu = GRIDS[seq]
        pts = _grid_points(size, spacing, origin)
        body = _ellipsoid(pts, (32, 32, 20), (30, 28, 40))
        organ = _ellipsoid(pts, organ_c, organ_r)
        lesion = _ellipsoid(pts, lesion_c, lesion_r)
        texture = np.sin(pts[0] / rng.uniform(2, 4)) * np.cos(pts[1] / rng.uniform(2, 4))
        image = np.where(body, fat_mu, 0.05)
        image = np.where(organ, organ_mu, image)
        image = np.where(lesion, lesion_mu + 0.08 * texture, image)
        bias = 1 + 0.2 * (pts[0] - 32) / 64
        image = image * bias * rng.uniform(800, 1200) + rng.normal(0, 60, image.shape)
        img = sitk.GetImageFromArray(image.astype(np.float32))
        msk = sitk.GetImageFromArray(lesion.astype(np.uint8))
        for volume in (img, msk):
            volume.SetSpacing(spacing)
            volume.SetOrigin(origin)
        out[seq] = (img, msk)
    return out


def write_phantom_cohort(
    root: Path,
    splits: dict[str, int],
    seed: int = 0,
    sequences: tuple[str, ...] = ("t2w", "cet1w"),
) -> Path:
    """Write images, masks and ``manifest.csv``; return the manifest path."""
    rng = np.random.default_rng(seed)
    rows = []
    k = 0
    for split, n in splits.items():
        for _ in range(n):
            pid = f"P{k:03d}"
            k += 1
            row = {"patient_id": pid, "site": "B" if split == "external_test" else "A",
                   "split": split, "label": str(k % 2)}  # fmt: skip
            for seq, (img, msk) in phantom_patient(rng, sequences).items():
                image_path = root / "images" / f"{pid}_{seq}.nii.gz"
                mask_path = root / "masks" / f"{pid}_{seq}.nii.gz"
                image_path.parent.mkdir(parents=True, exist_ok=True)
                mask_path.parent.mkdir(parents=True, exist_ok=True)
                sitk.WriteImage(img, str(image_path))
                sitk.WriteImage(msk, str(mask_path))
                row[f"image_{seq}"] = f"images/{pid}_{seq}.nii.gz"
                row[f"mask_{seq}"] = f"masks/{pid}_{seq}.nii.gz"
            rows.append(row)
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


@pytest.fixture
def phantom_cohort(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``phantom_cohort(train=6, internal_test=2)`` writes a cohort, returns manifest."""

    def make(seed: int = 0, sequences=("t2w", "cet1w"), **splits: int) -> Path:
        return write_phantom_cohort(tmp_path / f"cohort{seed}", splits or {"train": 6}, seed,
                                    tuple(sequences))  # fmt: skip

    return make


TINY_OVERRIDES = {
    "data": {"spacing_mm": [1.6, 1.6, 4.0], "cache_rate": 1.0},
    "network": {"base_channels": 4, "depth": 2, "kernel_size": 3, "max_convs": 1},
    "train": {"patch_size": [32, 32, 8], "batch_size": 2, "patches_per_volume": 2,
              "max_epochs": 3, "patience": 10, "learning_rate": 0.003, "cpu_threads": 1},
    "inference": {"sw_batch_size": 4, "tta_flips": [[0]]},
}  # fmt: skip


def _merge(base: dict, extra: dict) -> dict:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in extra.items():
        if isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    return merged


@pytest.fixture
def tiny_settings() -> Callable[..., dict]:
    """Factory: the phantom-sized settings as a dict, with nested overrides merged in."""

    def make(**overrides) -> dict:
        return _merge(TINY_OVERRIDES, overrides)

    return make


@pytest.fixture
def tiny_config_file(tmp_path: Path, tiny_settings) -> Callable[..., Path]:
    """Factory: write the phantom-sized settings (with overrides) to a YAML file."""
    import yaml

    def make(name: str = "tiny.yaml", **overrides) -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(tiny_settings(**overrides)))
        return path

    return make


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One torch thread per test process: CI runs two workers on two cores, and OpenMP threads
    spinning against each other make small convolutions ~40x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SPLITS = {"train": 5, "internal_test": 2, "external_test": 1}


def phantom_settings(**train) -> dict:
    """The phantom-sized settings, trained for 2 epochs unless overridden."""
    settings = {k: dict(v) for k, v in TINY_OVERRIDES.items()}
    settings["train"].update({"max_epochs": 2, **train})
    return settings


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A phantom cohort and a model trained on it for 2 epochs without interruption."""
    import yaml
    from typer.testing import CliRunner

    from radiopipe.cli import app

    root = tmp_path_factory.mktemp("segment")
    manifest = write_phantom_cohort(root / "cohort", SPLITS, seed=1)
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(phantom_settings()))
    out = root / "model"
    result = CliRunner().invoke(
        app, ["segment", "train", "--manifest", str(manifest), "--config", str(config),
              "--out", str(out)], catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return {"manifest": manifest, "config": config, "model": out, "root": root}
