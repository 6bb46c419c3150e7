"""A small on-disk cohort (tiny volumes) that tests can break one way at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import sphere_mask, write_volume

SHAPE = (8, 16, 16)
SPACING = {"t2w": (0.8, 0.8, 6.0), "cet1w": (1.0, 1.0, 4.0)}


def build_cohort(root: Path, sites: tuple[str, ...] = ("A", "A", "A", "B", "B")) -> Path:
    """Write tiny T2W/CE-T1W images and masks for each patient plus manifest.csv."""
    rng = np.random.default_rng(0)
    rows = []
    for index, site in enumerate(sites):
        pid = f"{site}-{index:03d}"
        row = {"patient_id": pid, "site": site, "label": str(index % 2), "age": str(30 + index)}
        row["split"] = "external_test" if site == "B" else ("train" if index else "internal_test")
        for seq, spacing in SPACING.items():
            image = rng.normal(500, 50, SHAPE).astype(np.int16)
            write_volume(root / "images" / f"{pid}_{seq}.nii.gz", image, spacing)
            write_volume(root / "masks" / f"{pid}_{seq}.nii.gz", sphere_mask(SHAPE, 3), spacing)
            row[f"image_{seq}"] = f"images/{pid}_{seq}.nii.gz"
            row[f"mask_{seq}"] = f"masks/{pid}_{seq}.nii.gz"
        rows.append(row)
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


@pytest.fixture
def cohort_dir(tmp_path: Path) -> Path:
    """Folder holding a valid 5-patient cohort; its manifest is cohort_dir / 'manifest.csv'."""
    build_cohort(tmp_path)
    return tmp_path
