"""SHAP figures: global bar and beeswarm, per-patient waterfall, grouped importance.

Each function returns a matplotlib Figure (shown inline in notebooks, saved by the stage).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from radiopipe.contracts import PRIMARY_SPLITS, Split
from radiopipe.explain.core import ModelExplanation
from radiopipe.explain.groups import GROUPING_TITLES, GROUPINGS

SCALE_TEXT = {"probability": "predicted probability", "log_odds": "log-odds"}
BAR_COLOUR = "#1f4e79"


def _axis_label(explanation: ModelExplanation) -> str:
    return f"SHAP value (change in {SCALE_TEXT.get(explanation.scale, explanation.scale)})"


def bar_plot(explanation: ModelExplanation, max_display: int = 15) -> object:
    """Global importance: mean |SHAP| of the most important features."""
    import matplotlib.pyplot as plt
    import shap

    n = min(max_display, len(explanation.features))
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * n + 1.4))
    shap.plots.bar(explanation.explanation(), max_display=max_display, ax=ax, show=False)
    ax.set_xlabel(f"mean |{_axis_label(explanation)}|")
    ax.set_title(f"{explanation.model}: global feature importance", loc="left", fontsize=11)
    _tight(fig)
    return fig


def beeswarm_plot(explanation: ModelExplanation, max_display: int = 15) -> object:
    """Every patient's SHAP value per feature, coloured by the feature's value."""
    import matplotlib.pyplot as plt
    import shap

    n = min(max_display, len(explanation.features))
    fig, ax = plt.subplots(figsize=(7.5, 0.34 * n + 1.6))
    shap.plots.beeswarm(
        explanation.explanation(), max_display=max_display, ax=ax, show=False, plot_size=None
    )
    ax.set_xlabel(_axis_label(explanation))
    ax.set_title(f"{explanation.model}: SHAP values per patient", loc="left", fontsize=11)
    _tight(fig)
    return fig


def waterfall_plot(explanation: ModelExplanation, patient: str, max_display: int = 12) -> object:
    """How each feature moves one patient's output from the background average."""
    import matplotlib.pyplot as plt
    import shap

    plt.figure()
    shap.plots.waterfall(explanation.explanation([patient])[0], max_display=max_display, show=False)
    fig = plt.gcf()
    row = explanation.patients.loc[patient]
    parts = [f"patient {patient}", f"split {row.get('split', '')}"]
    if "label" in row.index and pd.notna(row["label"]):
        parts.append(f"outcome {int(row['label'])}")
    fig.suptitle(f"{explanation.model}: " + ", ".join(parts), x=0.02, ha="left", fontsize=11)
    fig.set_size_inches(6.8, 0.34 * min(max_display, len(explanation.features)) + 1.6)
    _tight(fig)
    return fig


def grouped_plot(explanation: ModelExplanation) -> object:
    """Importance by sequence, image type and feature class, as three bar panels."""
    import matplotlib.pyplot as plt

    table = explanation.grouped()
    counts = [max(1, (table["grouping"] == g).sum()) for g in GROUPINGS]
    fig, axes = plt.subplots(
        len(GROUPINGS),
        1,
        figsize=(7.5, 0.3 * sum(counts) + 2.4),
        gridspec_kw={"height_ratios": counts},
    )
    for ax, grouping in zip(np.atleast_1d(axes), GROUPINGS, strict=True):
        part = table.loc[table["grouping"] == grouping].sort_values("importance")
        ax.barh(part["label"], part["importance"], color=BAR_COLOUR, height=0.6)
        for y, (value, share, k) in enumerate(
            zip(part["importance"], part["importance_share"], part["n_features"], strict=True)
        ):
            noun = "feature" if k == 1 else "features"
            ax.text(value, y, f"  {share:.0%} ({k} {noun})", va="center", fontsize=8)
        ax.set_title(GROUPING_TITLES[grouping], loc="left", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_xlim(0, max(part["importance"].max() * 1.45, 1e-12))
    np.atleast_1d(axes)[-1].set_xlabel(f"mean |group {_axis_label(explanation)}|")
    fig.suptitle(f"{explanation.model}: importance by group", x=0.02, ha="left", fontsize=11)
    _tight(fig)
    return fig


def example_patients(
    explanation: ModelExplanation, threshold: float = 0.5, per_split: int = 3
) -> list[str]:
    """Patients worth a waterfall: per test split, a confident correct case and control and
    the most confidently misclassified patient (highest and lowest output without labels)."""
    table = explanation.patients
    splits = [s for s in (*PRIMARY_SPLITS[:3], Split.TRAIN) if s in set(table["split"])]
    chosen: list[str] = []
    p = table["output"]
    cut = threshold if explanation.scale == "probability" else np.log(threshold / (1 - threshold))
    for split in splits[:2]:
        out = p.loc[table["split"] == split]
        picks: list[object] = []
        if "label" in table.columns and table.loc[out.index, "label"].notna().any():
            y = table.loc[out.index, "label"].astype(float)
            hits_case, hits_control = (y == 1) & (out >= cut), (y == 0) & (out < cut)
            wrong = (out >= cut) != (y == 1)
            picks += [out[hits_case].idxmax()] if hits_case.any() else []
            picks += [out[hits_control].idxmin()] if hits_control.any() else []
            picks += [(out[wrong] - cut).abs().idxmax()] if wrong.any() else []
        else:
            picks += [out.idxmax(), out.idxmin()]
        fresh = [str(x) for x in picks if str(x) not in chosen]
        chosen += fresh[:per_split]
    return chosen


def _tight(fig: object) -> None:
    """Tight layout where the labels allow it (long feature names may not fit: no warning)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        fig.tight_layout()  # type: ignore[attr-defined]
