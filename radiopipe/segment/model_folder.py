"""The segmentation model folder: JSON card, resolved config, division, weights per model.

Weights and training states are written and read by :mod:`radiopipe.torchrun.checkpoint`
(weights-only ``.pt`` files); this module knows the folder's layout and checks its card.

Model folder layout::

    segmentation_model.json     format, versions, mode, models and their weights' SHA-256
    config.resolved.yaml        the SegmentationConfig the models were trained with
    division.csv                patient_id, role (train / validation)
    <model>/model.pt            best weights (state_dict)
    <model>/checkpoint.pt       full training state of the last finished epoch
    <model>/history.csv         one row per epoch
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

from radiopipe import __version__
from radiopipe.atomic import write_json
from radiopipe.config import load_config
from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.errors import ConfigError, RadiopipeError
from radiopipe.hashing import file_sha256

FORMAT = "radiopipe-segmentation"
FORMAT_VERSION = 1
CARD_FILE = "segmentation_model.json"
CONFIG_FILE = "config.resolved.yaml"
DIVISION_FILE = "division.csv"
WEIGHTS_FILE = "model.pt"
CHECKPOINT_FILE = "checkpoint.pt"
HISTORY_FILE = "history.csv"


def versions() -> dict[str, str | None]:
    """Versions recorded in the card."""
    found: dict[str, str | None] = {"radiopipe": __version__}
    for name in ("torch", "monai", "SimpleITK"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def write_card(folder: Path, config: SegmentationConfig, models: dict[str, dict]) -> Path:
    """Write ``segmentation_model.json``: format, versions, mode and each model's weights hash."""
    card = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": versions(),
        "mode": config.mode,
        "sequences": list(config.sequences),
        "config": CONFIG_FILE,
        "models": models,
    }
    return write_json(folder / CARD_FILE, card)


def read_model_folder(folder: str | Path) -> tuple[SegmentationConfig, dict[str, Any]]:
    """Read and check a trained model folder; refuse an incompatible or incomplete one."""
    folder = Path(folder)
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise RadiopipeError(
            f"{folder}: not a radiopipe segmentation model folder (no {CARD_FILE}); "
            "train one with 'radiopipe segment train'"
        )
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RadiopipeError(f"{card_path}: unreadable model card ({err})") from None
    if card.get("format") != FORMAT or card.get("format_version") != FORMAT_VERSION:
        written = card.get("versions", {}).get("radiopipe", "an unknown version")
        raise RadiopipeError(
            f"{folder}: model folder format {card.get('format')!r} version "
            f"{card.get('format_version')!r} (written by radiopipe {written}) is not readable by "
            f"radiopipe {__version__}, which reads {FORMAT!r} version {FORMAT_VERSION}; retrain "
            "the model with this version or use the radiopipe version that wrote it"
        )
    try:
        config = load_config(folder / card.get("config", CONFIG_FILE), SegmentationConfig)
    except ConfigError as err:
        raise RadiopipeError(
            f"{folder}: the model's configuration does not fit radiopipe {__version__} "
            f"(written by {card.get('versions', {}).get('radiopipe')}): {err}"
        ) from None
    missing = [n for n in config.model_names() if not card.get("models", {}).get(n, {}).get("done")]
    if missing:
        raise RadiopipeError(
            f"{folder}: training is incomplete for model(s) {', '.join(missing)}; finish it with "
            "'radiopipe segment train ... --resume'"
        )
    for name in config.model_names():
        weights = folder / card["models"][name]["weights"]
        if not weights.is_file():
            raise RadiopipeError(f"{folder}: weights of model {name} are missing ({weights})")
        if file_sha256(weights) != card["models"][name]["weights_sha256"]:
            raise RadiopipeError(
                f"{weights}: SHA-256 differs from the one recorded in {CARD_FILE}; the weights "
                "were modified or corrupted"
            )
    return config, card
