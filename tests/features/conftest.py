"""A tiny textured cohort on disk for extraction tests, and the fast parameter file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter

from tests.conftest import REPO, sphere_mask, write_volume

FAST = REPO / "configs" / "extraction" / "fast.yaml"
PAPER = REPO / "configs" / "extraction" / "paper.yaml"
DEMO = REPO / "configs" / "extraction" / "demo.yaml"
SHAPE = (10, 24, 24)
SPACING = {"t2w": (1.0, 1.0, 2.0), "cet1w": (1.2, 1.2, 2.0)}
SPLITS = ("train", "train", "train", "internal_test", "external_test")


def lesion_image(rng: np.random.Generator, mask: np.ndarray, contrast: float) -> np.ndarray:
    """A smooth textured background with a brighter, differently textured lesion."""
    texture = gaussian_filter(rng.normal(size=mask.shape), 1.0)
    image = 400 + 60 * texture / texture.std() + 10 * rng.normal(size=mask.shape)
    return (image + contrast * mask * (1 + 0.3 * rng.normal(size=mask.shape))).astype(np.float32)


def build_cohort(root: Path, n: int = 5, second_masks: bool = False, seed: int = 0) -> Path:
    """Write n patients x (t2w, cet1w) images and masks plus manifest.csv; return its path."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(n):
        pid = f"P{index:03d}"
        split = SPLITS[index % len(SPLITS)]
        row = {"patient_id": pid, "site": "AB"[index % 2], "split": split, "label": index % 2}
        for seq, spacing in SPACING.items():
            radius = 3.0 + 0.5 * index
            mask = sphere_mask(SHAPE, radius, center=(5, 12, 12))
            image = lesion_image(rng, mask, contrast=150 + 20 * index)
            write_volume(root / pid / f"{seq}.nii.gz", image, spacing)
            write_volume(root / pid / f"{seq}_mask.nii.gz", mask, spacing)
            row[f"image_{seq}"] = f"{pid}/{seq}.nii.gz"
            row[f"mask_{seq}"] = f"{pid}/{seq}_mask.nii.gz"
            if second_masks:
                other = sphere_mask(SHAPE, radius + 0.6, center=(5, 12.4, 11.8))
                write_volume(root / pid / f"{seq}_mask2.nii.gz", other, spacing)
                row[f"mask2_{seq}"] = f"{pid}/{seq}_mask2.nii.gz"
        rows.append(row)
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


@pytest.fixture
def tiny_cohort(tmp_path: Path) -> Path:
    """Manifest path of a 5-patient, 2-sequence tiny cohort (splits train/internal/external)."""
    return build_cohort(tmp_path / "cohort")


@pytest.fixture
def fast_params():
    """The validated fast.yaml parameters."""
    from radiopipe.features.params import load_params

    return load_params(FAST)
