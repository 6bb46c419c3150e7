"""The V-Net in a bundle: weights as NumPy ``.npz`` arrays (no pickle), and back to a model
folder that :func:`radiopipe.segment.stage.segment_cohort` reads.

A trained model folder keeps its weights as ``torch.save`` files; the bundle stores each
state_dict as named float arrays (read with ``allow_pickle=False``) next to the model's
resolved config and a card whose entries point at the arrays. Scoring writes a scratch
model folder from them (weights re-hashed into its card), so segmentation runs through the
same public function as in a study run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from radiopipe.atomic import atomic_path, write_json
from radiopipe.hashing import file_sha256
from radiopipe.segment.model_folder import CARD_FILE, CONFIG_FILE, WEIGHTS_FILE, read_model_folder

ARRAYS_FILE = "weights.npz"


def export_vnet(model: Path, out: Path) -> Path:
    """Copy a trained V-Net folder into ``out`` with its weights as ``.npz`` arrays."""
    from radiopipe.torchrun.checkpoint import load_tensors

    config, card = read_model_folder(model)  # complete, hashes match
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / CONFIG_FILE) as tmp:
        shutil.copyfile(model / card.get("config", CONFIG_FILE), tmp)
    models = {}
    for name in config.model_names():
        entry = dict(card["models"][name])
        weights = load_tensors(model / entry["weights"])
        target = out / name / ARRAYS_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        arrays = {key: value.detach().cpu().numpy() for key, value in weights.items()}
        with atomic_path(target) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        models[name] = {
            "weights": f"{name}/{ARRAYS_FILE}",
            "weights_sha256": file_sha256(target),
            "done": True,
            **{k: v for k, v in entry.items() if k not in ("weights", "weights_sha256", "done")},
        }
    bundle_card = {k: v for k, v in card.items() if k != "models"} | {
        "config": CONFIG_FILE,
        "models": models,
        "source_weights_sha256": {n: card["models"][n]["weights_sha256"] for n in models},
    }
    return write_json(out / CARD_FILE, bundle_card)


def materialise_vnet(bundled: Path, out: Path) -> Path:
    """A model folder in ``out`` (``torch`` weights) made from the bundle's V-Net arrays."""
    import torch

    from radiopipe.torchrun.checkpoint import save_tensors

    card = json.loads((bundled / CARD_FILE).read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundled / card["config"], out / CONFIG_FILE)
    models = {}
    for name, entry in card["models"].items():
        with np.load(bundled / entry["weights"], allow_pickle=False) as arrays:
            state = {key: torch.from_numpy(np.array(arrays[key])) for key in arrays.files}
        weights = save_tensors(out / name / WEIGHTS_FILE, state)
        models[name] = entry | {
            "weights": f"{name}/{WEIGHTS_FILE}",
            "weights_sha256": file_sha256(weights),
        }
    folder_card = {k: v for k, v in card.items() if k != "source_weights_sha256"}
    write_json(out / CARD_FILE, folder_card | {"config": CONFIG_FILE, "models": models})
    read_model_folder(out)  # the scratch folder is a valid model folder
    return out
