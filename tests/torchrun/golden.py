"""Numbers of a tiny seeded segment and deep training (2 epochs, CPU) for the reproduction test.

``RADIOPIPE_RECORD_GOLDEN=OUT.json pytest tests/torchrun`` records them; the test compares a
fresh run with the file recorded before the torch runtime was shared (tests/torchrun/golden.json).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def _tensor_numbers(state: dict) -> dict[str, list[float]]:
    return {
        key: [float(v.double().sum()), float(v.double().abs().sum())]
        for key, v in sorted(state.items())
        if torch.is_tensor(v) and v.is_floating_point()
    }


def segment_numbers(root: Path) -> dict:
    """A two-epoch V-Net on the phantom cohort: best and last weights, per-epoch history."""
    from radiopipe.cohort import read_manifest
    from radiopipe.config import parse_config
    from radiopipe.config.segmentation import SegmentationConfig
    from tests.segment.conftest import SPLITS, phantom_settings, write_phantom_cohort

    try:
        from radiopipe.segment.runner import train
    except ImportError:  # before the runtime was shared
        from radiopipe.segment.train import train

    manifest = write_phantom_cohort(root / "cohort", SPLITS, seed=1, sequences=("t2w",))
    settings = parse_config({**phantom_settings(), "sequences": ["t2w"]}, SegmentationConfig)
    train(read_manifest(manifest), settings, root / "model", show_progress=False)
    folder = root / "model" / "t2w"
    best = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    last = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)
    history = pd.read_csv(folder / "history.csv")
    return {
        "best": _tensor_numbers(best),
        "last": _tensor_numbers(last["model"]),
        "history": history[["epoch", "train_loss", "val_dice", "lr"]].to_dict("list"),
        "best_epoch": int(last["best_epoch"]),
    }


def deep_numbers(root: Path) -> dict:
    """A two-epoch DenseNet on the deep toy cohort (fixed design): predictions and histories."""
    from radiopipe.deep.runner import train_deep
    from tests.deep.conftest import make_cohort, tiny_config

    (root / "cohort").mkdir(parents=True)
    manifest = make_cohort(root / "cohort", n_train=12, n_internal=4, n_external=4)
    config = tiny_config(epochs=2, patience=2).model_copy(
        update={"explain": tiny_config().explain.model_copy(update={"enabled": False})}
    )
    run = train_deep(manifest, config, root / "run")
    table = run.predictions.sort_values(["split", "fold", "patient_id"])
    histories = {
        path.parent.name: pd.read_csv(path)[["epoch", "train_loss", "val_loss"]].to_dict("list")
        for path in sorted((root / "run" / "checkpoints").glob("*/history.csv"))
    }
    best = torch.load(
        root / "run" / "checkpoints" / "final" / "best.pt", map_location="cpu", weights_only=True
    )
    return {
        "probability": [float(p) for p in table["probability"]],
        "patients": list(table["patient_id"]),
        "histories": histories,
        "final_best": _tensor_numbers(best),
        "threshold": float(run.threshold),
    }


def record() -> dict:
    """Both runs, on one torch thread (as the tests run)."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        return {
            "segment": segment_numbers(Path(tmp) / "segment"),
            "deep": deep_numbers(Path(tmp) / "deep"),
            "torch": torch.__version__,
            "numpy": np.__version__,
        }
