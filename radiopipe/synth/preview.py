"""Figures of a synthetic cohort: lesion slices with mask contours, and the outcome model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radiopipe.atomic import atomic_path
from radiopipe.cohort.manifest import read_manifest

SEQUENCE_TITLES = {"t2w": "T2WI", "cet1w": "CE-T1WI"}
FUNAKI = {1: "I", 2: "II", 3: "III"}


def save_slices(manifest: str | Path, png: str | Path, per_site: int = 3) -> Path:
    """Save a PNG: for a few patients per site, the lesion's largest slice of each sequence."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cohort = read_manifest(manifest)
    chosen = _choose_patients(cohort.table, per_site)
    sequences = cohort.sequences
    fig = Figure(figsize=(2.3 * len(chosen), 2.5 * len(sequences)), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(sequences), len(chosen), squeeze=False)
    for col, (_, row) in enumerate(chosen.iterrows()):
        for r, seq in enumerate(sequences):
            image = sitk.GetArrayFromImage(sitk.ReadImage(row[f"image_{seq}"]))
            mask = sitk.GetArrayFromImage(sitk.ReadImage(row[f"mask_{seq}"]))
            k = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(1)))
            low, high = np.percentile(image[k], (1, 99.5))
            ax = axes[r, col]
            ax.imshow(image[k], cmap="gray", vmin=low, vmax=high, interpolation="nearest")
            ax.contour(mask[k], levels=[0.5], colors="#ff3b30", linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                funaki = FUNAKI.get(int(row.get("funaki_type", 0) or 0), "?")
                title = f"{row['patient_id']} (site {row['site']})"
                ax.set_title(f"{title}\nlabel {row['label']}, Funaki {funaki}", fontsize=8)
            if col == 0:
                ax.set_ylabel(SEQUENCE_TITLES.get(seq, seq), fontsize=9)
    fig.suptitle("Synthetic cohort: largest lesion slice, ground-truth mask in red", fontsize=10)
    fig.tight_layout()
    return _save(fig, png)


def save_outcome_figure(cohort_dir: str | Path, png: str | Path) -> Path:
    """Save a PNG of the outcome model: response curve, coefficients, the two main drivers."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cohort_dir = Path(cohort_dir)
    truth = pd.read_csv(cohort_dir / "truth.csv")
    model = json.loads((cohort_dir / "synth.json").read_text(encoding="utf-8"))["outcome_model"]
    fig = Figure(figsize=(13, 3.8), dpi=110)
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)

    eta = np.linspace(truth["linear_predictor"].min(), truth["linear_predictor"].max(), 200)
    ax1.plot(eta, 1 / (1 + np.exp(-eta)), color="black", lw=1.5, label="P(favourable)")
    jitter = np.random.default_rng(0).uniform(-0.03, 0.03, len(truth))
    ax1.scatter(
        truth["linear_predictor"], truth["label"] + jitter, s=5, alpha=0.4, c=truth["label"],
        cmap="coolwarm_r", label="patients (label)",
    )  # fmt: skip
    ax1.set_xlabel("linear predictor (log-odds)")
    ax1.set_ylabel("probability / label")
    ax1.set_title(f"effect size {model['effect_size']}, target {model['positive_fraction']:.0%}")

    names = list(model["latents"])
    values = [model["coefficients"][n] for n in names]
    colors = ["#2a9d8f" if v > 0 else "#e76f51" for v in values]
    ax2.barh(names, values, color=colors)
    ax2.axvline(0, color="black", lw=0.8)
    ax2.set_xlabel("log-odds per SD of the hidden score")
    ax2.set_title("coefficients (+ favours response)")
    ax2.invert_yaxis()

    for label, color in ((0, "#e76f51"), (1, "#2a9d8f")):
        part = truth[truth["label"] == label]
        ax3.scatter(part["t2_solid"], part["ce_solid"], s=6, alpha=0.6, color=color,
                    label=f"label {label} (n={len(part)})")  # fmt: skip
    ax3.set_xlabel("solid-tissue T2 signal (cellularity)")
    ax3.set_ylabel("solid-tissue CE-T1 signal (vascularity)")
    ax3.set_title("the two main drivers")
    ax3.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _save(fig, png)


def _choose_patients(table: pd.DataFrame, per_site: int) -> pd.DataFrame:
    """Up to ``per_site`` patients of each site, alternating favourable and unfavourable."""
    picks = []
    for _, rows in table.groupby("site", sort=True):
        queues = {v: list(rows.index[rows["label"] == v]) for v in ("1", "0")}
        order = []
        for i in range(min(per_site, len(rows))):
            wanted, other = ("1", "0") if i % 2 == 0 else ("0", "1")
            queue = queues[wanted] or queues[other]
            order.append(queue.pop(0))
        picks.append(rows.loc[order])
    return pd.concat(picks)


def _save(fig, png: str | Path) -> Path:
    png = Path(png)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    return png
