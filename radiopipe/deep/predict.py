"""Inference on cached crops, the predictions-table schema, and the saved model artefact."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from radiopipe import __version__
from radiopipe.atomic import write_json
from radiopipe.config import load_config, save_resolved
from radiopipe.config.deep import DeepConfig
from radiopipe.contracts import PREDICTIONS_COLUMNS, DeepModelLayout
from radiopipe.deep.crops import CropStore
from radiopipe.deep.data import CropDataset, loader
from radiopipe.deep.networks import build_network
from radiopipe.errors import RadiopipeError
from radiopipe.torchrun.checkpoint import CheckpointError, load_weights, save_weights
from radiopipe.torchrun.device import autocast, select_device

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = PREDICTIONS_COLUMNS
MODEL_FORMAT = 1
WEIGHTS, CONFIG, META = "weights.pt", "config.yaml", "model.json"


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    store: CropStore,
    patients: Sequence[str],
    device: torch.device,
    batch_size: int = 16,
) -> np.ndarray:
    """Raw class logits (n, 2) for the crops of ``patients``, in order, model in eval mode."""
    if not patients:
        return np.zeros((0, 2))
    dataset = CropDataset(store, patients, [0] * len(patients))
    batches = loader(dataset, batch_size, shuffle=False, seed=0)
    model.eval()
    outputs = []
    for batch in batches:
        images = batch["image"].to(device, non_blocking=True)
        with autocast(device, device.type == "cuda"):
            logits = model(images)
        outputs.append(logits.float().cpu().numpy())
    return np.concatenate(outputs).astype(np.float64)


def predict_proba(
    model: nn.Module,
    store: CropStore,
    patients: Sequence[str],
    device: torch.device,
    batch_size: int = 16,
) -> np.ndarray:
    """Probability of the positive class (label 1) for each patient, as float64."""
    logits = predict_logits(model, store, patients, device, batch_size)
    return torch.softmax(torch.as_tensor(logits), dim=1)[:, 1].numpy().astype(np.float64)


def predictions_frame(rows: pd.DataFrame | list[dict]) -> pd.DataFrame:
    """Rows in the long predictions-table contract (column order and dtypes enforced)."""
    frame = pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
    return frame.astype(
        {"patient_id": str, "split": str, "fold": "int64", "model": str,
         "probability": "float64", "label": "int64"}
    ).reset_index(drop=True)  # fmt: skip


def save_model(folder: str | Path, model: nn.Module, config: DeepConfig, extra: dict) -> Path:
    """Write the deployable model: state_dict, resolved config, and a version record."""
    folder = Path(folder)
    save_weights(folder / WEIGHTS, model)
    save_resolved(config, folder / CONFIG)
    meta = {
        "format": MODEL_FORMAT,
        "radiopipe": __version__,
        "torch": torch.__version__,
        "model": config.model_name,
        "architecture": config.network.architecture,
        "sequences": list(config.crop.sequences),
        **extra,
    }
    write_json(folder / META, meta)
    return folder


def load_model(folder: str | Path) -> tuple[nn.Module, DeepConfig, dict]:
    """Load a saved model (weights only; no pickled code) with its config and record."""
    folder = Path(folder)
    meta_path = folder / META
    if not meta_path.is_file():
        raise CheckpointError(f"{folder}: not a radiopipe deep model folder (no {META})")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != MODEL_FORMAT:
        raise CheckpointError(
            f"{folder}: model format {meta.get('format')!r} (radiopipe {meta.get('radiopipe')}) "
            f"is not supported by radiopipe {__version__} (format {MODEL_FORMAT}); retrain it"
        )
    config = load_config(folder / CONFIG, DeepConfig)
    model = build_network(config.network, config.crop)
    load_weights(folder / WEIGHTS, model)
    return model.eval(), config, meta


def predict_manifest(
    model_folder: str | Path, manifest: str | Path, out: str | Path
) -> pd.DataFrame:
    """Score every patient of a manifest with a saved model; write ``out/predictions.parquet``.

    Rows keep the manifest's split (``score`` where it is empty), fold -1, and label -1 where
    the manifest has no 0/1 label (a cohort to score rather than to validate).
    """
    from radiopipe.atomic import write_parquet
    from radiopipe.cohort.manifest import read_manifest

    model, config, meta = load_model(model_folder)
    cohort = read_manifest(manifest)
    missing = [s for s in config.crop.sequences if s not in cohort.sequences]
    if missing:
        raise RadiopipeError(f"{manifest}: the model needs sequence(s) {', '.join(missing)}")
    device = select_device(config.training.device, "training.device")
    store = CropStore(Path(out) / "crops", config.crop)
    patients = cohort.patients
    store.build(cohort, patients)
    probs = predict_proba(
        model.to(device), store, patients, device, config.training.inference_batch_size
    )
    table = cohort.table
    frame = predictions_frame(
        pd.DataFrame(
            {
                "patient_id": patients,
                "split": [s or "score" for s in table["split"]],
                "fold": -1,
                "model": config.model_name,
                "probability": probs,
                "label": [int(v) if v in ("0", "1") else -1 for v in table["label"]],
            }
        )
    )
    write_parquet(
        DeepModelLayout(out).predictions,
        frame,
        metadata={"model": config.model_name, "threshold": str(meta.get("threshold"))},
    )
    return frame
