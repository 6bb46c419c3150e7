"""Explain a finished deep run: overlays for a few patients per class, each explained by the
network that predicted it (the final model for test splits, its fold's model in CV)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch

from radiopipe.config.deep import DeepConfig
from radiopipe.contracts import Split
from radiopipe.deep.crops import CropStore
from radiopipe.deep.networks import build_network
from radiopipe.deep.overlays import append_index, choose_patients, write_overlays
from radiopipe.deep.trainer import BEST
from radiopipe.errors import RadiopipeError
from radiopipe.torchrun.checkpoint import load_weights

log = logging.getLogger(__name__)

EXPLANATIONS = "explanations"


def explain_run(
    folder: str | Path,
    config: DeepConfig,
    device: torch.device,
    patients: list[str] | None = None,
) -> pd.DataFrame:
    """Write overlays into ``folder/explanations`` and return the index rows of this model."""
    folder = Path(folder)
    rows = task_rows(folder)
    if patients:
        unknown = sorted(set(patients) - set(rows["patient_id"]))
        if unknown:
            raise RadiopipeError(f"patient(s) {', '.join(unknown)} have no prediction in {folder}")
        chosen = rows.loc[rows["patient_id"].isin(patients) & (rows["split"] != Split.TRAIN)]
        chosen = chosen.drop_duplicates("patient_id")
    else:
        chosen = choose_patients(rows, config.explain.splits, config.explain.patients_per_class)
    if chosen.empty:
        log.warning("no patients in split(s) %s to explain", ", ".join(config.explain.splits))
        return chosen
    store = CropStore(folder / "crops", config.crop)
    out = folder / EXPLANATIONS
    index = []
    for task, group in chosen.groupby("task", sort=True):
        model = build_network(config.network, config.crop)
        load_weights(folder / "checkpoints" / task / BEST, model)
        model = model.to(device).eval()
        index.append(write_overlays(model, config, store, group, out, device))
    table = pd.concat(index, ignore_index=True)
    append_index(out, table, config.model_name)
    log.info("wrote %d explanation overlay(s) to %s", len(table), out)
    return table


def task_rows(folder: Path) -> pd.DataFrame:
    """All prediction rows of a deep run, each with the task (network) that produced it."""
    parts = sorted((folder / "parts").glob("*.parquet"))
    if not parts:
        raise RadiopipeError(f"{folder}: no finished training tasks (parts/*.parquet) to explain")
    frames = [pd.read_parquet(p).assign(task=p.stem) for p in parts]
    return pd.concat(frames, ignore_index=True)
