"""Saliency overlays as PNG files for a few patients per class, with an index table."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from radiopipe.atomic import atomic_path, write_csv
from radiopipe.config.deep import DeepConfig
from radiopipe.deep.crops import CropStore
from radiopipe.deep.explain import lesion_focus, saliency

log = logging.getLogger(__name__)

INDEX_FILE = "index.csv"
INDEX_COLUMNS = (
    "patient_id", "split", "fold", "label", "probability", "model", "method", "slice",
    "lesion_focus", "file",
)  # fmt: skip


def choose_patients(
    predictions: pd.DataFrame, splits: tuple[str, ...], per_class: int
) -> pd.DataFrame:
    """From the first listed split present: per class, the ``per_class`` most confident
    correct predictions (then the least wrong ones), a stable choice."""
    for split in splits:
        rows = predictions.loc[predictions["split"] == split]
        if not rows.empty:
            break
    else:
        return predictions.iloc[0:0]
    rows = rows.drop_duplicates("patient_id").copy()
    rows["confidence"] = np.where(rows["label"] == 1, rows["probability"], 1 - rows["probability"])
    picked = [
        group.sort_values(["confidence", "patient_id"], ascending=[False, True]).head(per_class)
        for _, group in rows.groupby("label", sort=True)
    ]
    return pd.concat(picked, ignore_index=True).drop(columns="confidence")


def write_overlays(
    model: nn.Module,
    config: DeepConfig,
    store: CropStore,
    chosen: pd.DataFrame,
    folder: Path,
    device: torch.device,
) -> pd.DataFrame:
    """Compute each chosen patient's saliency map and save an overlay PNG; return index rows."""
    crops = [store.load(p) for p in chosen["patient_id"]]
    images = torch.from_numpy(np.stack([c.image for c in crops])).to(device)
    maps, method = saliency(model, config, images)
    lesions = np.stack([c.mask[0] for c in crops]).astype(np.float32)
    focus = lesion_focus(maps, lesions)
    rows = []
    for record, crop, saliency_map, ratio in zip(
        chosen.itertuples(index=False), crops, maps, focus, strict=True
    ):
        name = f"{config.model_name}_{store.path(record.patient_id).stem}.png"
        title = (
            f"{record.patient_id} ({record.split}) label {record.label}, "
            f"p={record.probability:.2f} - {config.model_name} {method.replace('_', ' ')}"
        )
        z = render_overlay(
            crop.image, crop.mask, saliency_map, config.crop.sequences, title, folder / name
        )
        rows.append(
            {"patient_id": record.patient_id, "split": record.split, "fold": record.fold,
             "label": record.label, "probability": record.probability,
             "model": config.model_name, "method": method, "slice": z,
             "lesion_focus": float(ratio), "file": name}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))


def append_index(folder: Path, rows: pd.DataFrame, model_name: str) -> Path:
    """Replace this model's rows in ``index.csv`` (other models' rows are kept)."""
    path = folder / INDEX_FILE
    if path.is_file():
        old = pd.read_csv(path, dtype={"patient_id": str})
        rows = pd.concat([old.loc[old["model"] != model_name], rows], ignore_index=True)
    return write_csv(path, rows)


def render_overlay(
    image: np.ndarray,
    mask: np.ndarray,
    saliency_map: np.ndarray,
    sequences: tuple[str, ...],
    title: str,
    path: Path,
) -> int:
    """Axial slice through the largest lesion cross-section, one panel per sequence: the
    image in grey, the map in colour, the lesion outline in cyan. Returns the slice index."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    area = mask[0].reshape(mask.shape[1], -1).sum(axis=1)
    z = int(np.argmax(area)) if area.max() > 0 else image.shape[1] // 2
    panels = len(sequences)
    figure = Figure(figsize=(3.2 * panels + 0.6, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for index, (ax, sequence) in enumerate(zip(axes, sequences, strict=True)):
        ax.imshow(image[index, z], cmap="gray", origin="lower")
        shown = ax.imshow(
            saliency_map[z], cmap="inferno", alpha=0.45, vmin=0, vmax=1, origin="lower"
        )
        lesion = mask[min(index, mask.shape[0] - 1), z]
        if lesion.any():
            ax.contour(lesion, levels=[0.5], colors="cyan", linewidths=1.0, origin="lower")
        ax.set_title(sequence)
        ax.set_axis_off()
    figure.colorbar(shown, ax=list(axes), fraction=0.03, pad=0.02, label="saliency")
    figure.suptitle(title, fontsize=8)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return z
