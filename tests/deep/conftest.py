"""Fixtures for the deep models: a small two-sequence cohort whose label lives in the lesion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radiopipe.config.deep import (
    AugmentSettings,
    CropSettings,
    DeepConfig,
    DenseNetSettings,
    ExplainSettings,
    TrainingSettings,
    ViTSettings,
)

# Each sequence on its own grid (spacing, origin), as two scans of one patient would be.
GRIDS = {
    "t2w": {"size": (40, 40, 16), "spacing": (1.5, 1.5, 4.0), "origin": (-30.0, -30.0, -32.0)},
    "cet1w": {"size": (48, 48, 20), "spacing": (1.25, 1.25, 3.0), "origin": (-31.0, -29.0, -30.0)},
}


def _physical_grid(size, spacing, origin) -> tuple[np.ndarray, ...]:
    zz, yy, xx = np.indices(size[::-1], dtype=float)
    return (origin[2] + zz * spacing[2], origin[1] + yy * spacing[1], origin[0] + xx * spacing[0])


def _write(array: np.ndarray, grid: dict, path: Path) -> str:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(grid["spacing"])
    image.SetOrigin(grid["origin"])
    sitk.WriteImage(image, str(path))
    return path.name


def make_cohort(
    folder: Path,
    n_train: int = 24,
    n_internal: int = 8,
    n_external: int = 8,
    seed: int = 0,
    contrast: float = 1.5,
) -> Path:
    """Write a cohort whose label is the lesion's CE-T1 enhancement; return the manifest path.

    Lesions (spheres, radius 7-11 mm) sit at random places; favourable (1) lesions enhance,
    unfavourable (0) ones stay dark, so only the lesion carries the outcome.
    """
    rng = np.random.default_rng(seed)
    splits = ["train"] * n_train + ["internal_test"] * n_internal + ["external_test"] * n_external
    rows = []
    for i, split in enumerate(splits):
        pid = f"P{i:03d}"
        label = i % 2
        centre = rng.uniform(-8, 8, size=3)  # (x, y, z) mm
        radius = rng.uniform(7, 11)
        row = {"patient_id": pid, "site": "B" if split == "external_test" else "A",
               "split": split, "label": str(label)}  # fmt: skip
        for seq, grid in GRIDS.items():
            z, y, x = _physical_grid(**grid)
            dist = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2)
            lesion = dist <= radius
            image = 100 + 10 * rng.standard_normal(lesion.shape)
            if seq == "cet1w":
                image[lesion] += (contrast if label else -contrast) * 30
            else:
                image[lesion] -= 30
            row[f"image_{seq}"] = _write(
                image.astype(np.float32), grid, folder / f"{pid}_{seq}.nii.gz"
            )
            row[f"mask_{seq}"] = _write(
                lesion.astype(np.uint8), grid, folder / f"{pid}_{seq}_mask.nii.gz"
            )
        rows.append(row)
    manifest = folder / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def tiny_config(architecture: str = "densenet", **training: object) -> DeepConfig:
    """A CPU-sized config: 16^3 crops, a small network, a few epochs."""
    network = (
        ViTSettings(patch_size=(4, 4, 4), hidden_size=32, mlp_dim=64, num_layers=2, num_heads=2,
                    dropout=0.0)
        if architecture == "vit"
        else DenseNetSettings(init_features=8, growth_rate=8, block_config=(2, 2), bn_size=2)
    )  # fmt: skip
    settings = {"epochs": 6, "batch_size": 8, "learning_rate": 3e-3, "patience": 6,
                "oof_folds": 2, "device": "cpu", **training}  # fmt: skip
    return DeepConfig(
        crop=CropSettings(size=(16, 16, 16), spacing_mm=(2.5, 2.5, 2.5)),
        network=network,
        augment=AugmentSettings(rotate_deg=5, scale=0.05),
        training=TrainingSettings(**settings),
        explain=ExplainSettings(patients_per_class=1),
    )


@pytest.fixture(scope="session")
def toy_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-patient toy cohort (train 24, internal 8, external 8), written once per session."""
    return make_cohort(tmp_path_factory.mktemp("deep_cohort"))
