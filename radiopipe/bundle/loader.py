"""Load a bundle: checksums first, then the format, then the parts (nothing unpickled)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from radiopipe import __version__
from radiopipe.bundle.checksums import BundleError, verify_checksums
from radiopipe.bundle.writer import FORMAT, FORMAT_VERSION
from radiopipe.contracts import BundleLayout, check_thresholds
from radiopipe.modeling.persistence import LoadedModel


@dataclass
class Bundle:
    """A verified bundle: its card, the fitted model and what scoring needs."""

    folder: Path
    card: dict[str, Any]
    model: LoadedModel
    thresholds: dict[str, float]
    preprocess: Any  # PreprocessSettings or None

    @property
    def layout(self) -> BundleLayout:
        """The bundle's files."""
        return BundleLayout(self.folder)

    @property
    def sequences(self) -> list[str]:
        """The sequences the model needs, in order."""
        return list(self.card["sequences"])

    @property
    def settings_sha256(self) -> str:
        """Hash of the pyradiomics parameters (and version) the features must be made with."""
        return str(self.card["settings_sha256"])

    @property
    def has_vnet(self) -> bool:
        """True if the bundle can segment a patient without a mask."""
        return bool(self.card.get("segmentation"))

    @property
    def reference_model(self) -> str:
        """The model whose probability the report leads with."""
        return str(self.card.get("reference_model", "stack"))

    def background(self) -> pd.DataFrame | None:
        """The SHAP background (training patients in the selected feature space), if any."""
        path = self.layout.shap_background
        return pd.read_parquet(path) if path.is_file() else None


def load_bundle(folder: str | Path) -> Bundle:
    """Verify every file against the checksum manifest, then read the bundle."""
    from radiopipe.modeling.persistence import load_model

    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"{folder}: bundle folder does not exist")
    verify_checksums(folder)
    layout = BundleLayout(folder)
    card = json.loads(layout.card.read_text(encoding="utf-8"))
    if card.get("format") != FORMAT or card.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{layout.card}: bundle format {card.get('format')!r} version "
            f"{card.get('format_version')!r} (radiopipe {card.get('radiopipe_version')}); this "
            f"radiopipe {__version__} reads {FORMAT!r} version {FORMAT_VERSION}. Export the "
            "bundle again with this version"
        )
    model = load_model(layout.model_dir)
    thresholds = check_thresholds(
        json.loads(layout.thresholds.read_text(encoding="utf-8")), layout.thresholds
    )
    preprocess = None
    if card.get("preprocess"):
        from radiopipe.config import load_config
        from radiopipe.config.preprocess import PreprocessSettings

        preprocess = load_config(layout.preprocess, PreprocessSettings)
    return Bundle(folder, card, model, thresholds, preprocess)
