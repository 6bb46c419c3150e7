"""harmonise.batch: ComBat batches from the site, the scanner metadata or a manifest column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiopipe.config.core import parse_config
from radiopipe.config.model import HarmoniseSettings
from radiopipe.errors import ConfigError
from radiopipe.modeling.columns import SITE_COLUMN
from radiopipe.modeling.tables import load_model_data


def _files(tmp_path: Path) -> tuple[Path, Path]:
    ids = [f"P{i}" for i in range(6)]
    rng = np.random.default_rng(0)
    features = pd.DataFrame(
        {"patient_id": ids, "t2w__original_firstorder_Mean": rng.normal(size=6)}
    )
    features.to_parquet(tmp_path / "features.parquet", index=False)
    manifest = pd.DataFrame(
        {
            "patient_id": ids,
            "site": ["A", "A", "A", "B", "B", "B"],
            "split": "",
            "label": [0, 1, 0, 1, 0, 1],
            "image_t2w": [f"{p}.nii.gz" for p in ids],
            "t2w__manufacturer": ["GE", "GE", "SIEMENS", "GE", "GE", "GE"],
            "t2w__model": ["Signa", "Signa", "Skyra", "Voyager", "Voyager", "Voyager"],
            "t2w__field_strength_t": ["3", "3", "3", "1.5", "1.5", "1.5"],
            "coil": ["x", "y", "x", "y", "x", "y"],
        }
    )
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    return tmp_path / "features.parquet", tmp_path / "manifest.csv"


def test_batch_is_site_scanner_or_a_column(tmp_path: Path) -> None:
    features, manifest = _files(tmp_path)
    site = load_model_data(features, manifest, require_labels=False)
    assert list(site.X[SITE_COLUMN]) == ["A", "A", "A", "B", "B", "B"]
    scanner = load_model_data(features, manifest, require_labels=False, batch="scanner")
    assert scanner.X[SITE_COLUMN].nunique() == 3
    assert scanner.X.loc["P2", SITE_COLUMN] == "SIEMENS | Skyra | 3"
    coil = load_model_data(features, manifest, require_labels=False, batch="coil")
    assert list(coil.X[SITE_COLUMN]) == ["x", "y", "x", "y", "x", "y"]
    with pytest.raises(ConfigError, match="neither site, scanner nor a column"):
        load_model_data(features, manifest, require_labels=False, batch="vendor")


def test_batch_setting_defaults_to_site() -> None:
    assert parse_config({}, HarmoniseSettings).batch == "site"
    assert parse_config({"batch": "scanner"}, HarmoniseSettings).batch == "scanner"
