"""Figures of the report (and the notebooks): ROC with CI bands, calibration, decision curves,
selection stability, ICC, PCA by site, segmentation quality. Each returns a matplotlib Figure
drawn from the stage tables; :func:`data_uri` embeds one in HTML."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.contracts import Split

PALETTE = (
    "#1f4e79",
    "#c0504d",
    "#4f9a5b",
    "#d08c2c",
    "#7a5195",
    "#2a9d9f",
    "#8c6d46",
    "#d45087",
    "#5a6b7b",
    "#a3a13b",
)
SPLIT_TITLES = {
    Split.TRAIN: "Training (apparent)",
    Split.TRAIN_OOF: "Training (out-of-fold)",
    Split.CV: "Cross-validation (held-out folds)",
    Split.INTERNAL_TEST: "Internal test",
    Split.EXTERNAL_TEST: "External test",
}
STYLE = {
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.labelsize": 8.5,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "font.family": ["DejaVu Sans", "sans-serif"],
    "svg.fonttype": "none",  # text stays text: smaller files, selectable, fast to typeset
}


COHORT_TITLES = {
    Split.TRAIN: "Training",
    Split.INTERNAL_TEST: "Internal test",
    Split.EXTERNAL_TEST: "External test",
}


def split_title(split: str) -> str:
    """A readable name of a split of the predictions (train = apparent performance)."""
    return SPLIT_TITLES.get(split, split.replace("_", " "))


def cohort_title(split: str) -> str:
    """A readable name of a cohort split (a set of patients)."""
    return COHORT_TITLES.get(split, split.replace("_", " ").capitalize())


def model_colours(models: Sequence[str], reference: str | None = None) -> dict[str, str]:
    """A fixed colour per model (the reference model first, in the darkest colour)."""
    ordered = [m for m in models if m == reference] + [m for m in models if m != reference]
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(dict.fromkeys(ordered))}


def _figure(width: float, height: float, ncols: int = 1) -> tuple[object, object]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), squeeze=False)
    return fig, axes[0]


def styled(func):
    """Draw inside the report's matplotlib style."""

    def wrapper(*args, **kwargs):
        import matplotlib.pyplot as plt

        with plt.rc_context(STYLE):
            return func(*args, **kwargs)

    wrapper.__doc__, wrapper.__name__ = func.__doc__, func.__name__
    return wrapper


@styled
def roc_figure(
    roc: pd.DataFrame,
    split: str,
    labels: dict[str, str] | None = None,
    bands: Sequence[str] = (),
    reference: str | None = None,
    colours: dict[str, str] | None = None,
) -> object:
    """ROC curves of every model on a split; pointwise bootstrap CI bands for ``bands``."""
    part = roc.loc[roc["split"] == split]
    found = list(dict.fromkeys(part["model"]))
    models = [m for m in found if m == reference] + [m for m in found if m != reference]
    colours = colours or model_colours(models, reference)
    fig, (ax,) = _figure(4.2, 4.0)
    ax.plot([0, 1], [0, 1], color="#9a9a9a", lw=0.8, ls="--", zorder=1)
    for model in models:
        rows = part.loc[part["model"] == model]
        band = rows.loc[rows["curve"] == "band"]
        if model in bands and not band.empty:
            ax.fill_between(
                band["fpr"],
                band["tpr_ci_low"],
                band["tpr_ci_high"],
                color=colours[model],
                alpha=0.15,
                lw=0,
                zorder=2,
            )
        curve = rows.loc[rows["curve"] == "empirical"]
        width = 2.0 if model == reference else 1.2
        name = (labels or {}).get(model, model)
        ax.plot(curve["fpr"], curve["tpr"], color=colours[model], lw=width, label=name, zorder=3)
    ax.set(
        xlim=(-0.01, 1.01),
        ylim=(-0.01, 1.01),
        aspect="equal",
        xlabel="1 − specificity (false-positive rate)",
        ylabel="Sensitivity (true-positive rate)",
    )
    ax.set_title(split_title(split), loc="left")
    ax.legend(loc="lower right", frameon=False, title="AUC (95% CI)" if labels else None)
    fig.tight_layout()
    return fig


@styled
def calibration_figure(
    reliability: pd.DataFrame,
    split: str,
    models: Sequence[str],
    colours: dict[str, str] | None = None,
) -> object:
    """Observed event rate against mean predicted probability (quantile bins, Wilson CIs)."""
    part = reliability.loc[(reliability["split"] == split) & reliability["model"].isin(models)]
    colours = colours or model_colours(list(models))
    fig, (ax,) = _figure(4.2, 4.0)
    ax.plot([0, 1], [0, 1], color="#9a9a9a", lw=0.8, ls="--", label="perfect calibration")
    for model in models:
        rows = part.loc[part["model"] == model].sort_values("mean_predicted")
        if rows.empty:
            continue
        yerr = np.vstack(
            [
                rows["observed"] - rows["observed_ci_low"],
                rows["observed_ci_high"] - rows["observed"],
            ]
        )
        ax.errorbar(
            rows["mean_predicted"],
            rows["observed"],
            yerr=np.clip(yerr, 0, None),
            color=colours[model],
            marker="o",
            ms=3.5,
            lw=1.2,
            capsize=2,
            elinewidth=0.7,
            label=model,
        )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        aspect="equal",
        xlabel="Predicted probability",
        ylabel="Observed proportion",
    )
    ax.set_title(split_title(split), loc="left")
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


@styled
def decision_figure(
    curves: pd.DataFrame,
    split: str,
    models: Sequence[str],
    reference: str | None = None,
    colours: dict[str, str] | None = None,
) -> object:
    """Net benefit against threshold probability, with treat-all and treat-none."""
    part = curves.loc[curves["split"] == split]
    colours = colours or model_colours(list(models), reference)
    fig, (ax,) = _figure(5.2, 3.6)
    top = 0.0
    for model in [*models, "treat_all", "treat_none"]:
        rows = part.loc[part["model"] == model].sort_values("threshold")
        if rows.empty:
            continue
        style = {
            "treat_all": ("#7f7f7f", ":", "Treat all"),
            "treat_none": ("#000000", "-", "Treat none"),
        }.get(model, (colours.get(model, "#333333"), "-", model))
        width = 2.0 if model == reference else 1.1
        ax.plot(
            rows["threshold"],
            rows["net_benefit"],
            color=style[0],
            ls=style[1],
            lw=width,
            label=style[2],
        )
        top = max(top, float(rows["net_benefit"].max()))
    ax.set(
        xlim=(0, 1),
        ylim=(-0.05, max(top * 1.1, 0.05)),
        xlabel="Threshold probability",
        ylabel="Net benefit",
    )
    ax.set_title(split_title(split), loc="left")
    ax.legend(loc="upper right", frameon=False, ncol=2)
    fig.tight_layout()
    return fig


@styled
def stability_figure(stability: pd.DataFrame, labels: dict[str, str], top: int = 20) -> object:
    """How often each feature was selected across the outer CV folds (top ``top``)."""
    rows = stability.sort_values(["frequency", "feature"], ascending=[False, True]).head(top)
    rows = rows.iloc[::-1]
    fig, (ax,) = _figure(6.8, 0.22 * len(rows) + 0.9)
    final = rows["in_final_model"] if "in_final_model" in rows else pd.Series(True, rows.index)
    colours = np.where(final.astype(bool), PALETTE[0], "#9fb3c8")
    ax.barh(
        [labels.get(f, f) for f in rows["feature"]], rows["frequency"], color=colours, height=0.65
    )
    ax.set(xlim=(0, 1), xlabel="Selection frequency across outer CV folds")
    ax.grid(axis="y", visible=False)
    ax.tick_params(axis="y", labelsize=6.5)
    fig.tight_layout()
    return fig


@styled
def icc_figure(icc: pd.DataFrame, threshold: float, labels: dict[str, str]) -> object:
    """Distribution of ICC(2,1) per sequence, with the retention threshold."""
    fig, (ax,) = _figure(5.6, 2.6)
    groups = icc.groupby("sequence") if "sequence" in icc.columns else [("all", icc)]
    bins = np.linspace(min(0.0, float(icc["icc"].min())), 1.0, 41)
    for i, (sequence, part) in enumerate(groups):
        ax.hist(
            part["icc"].dropna(),
            bins=bins,
            histtype="step",
            lw=1.4,
            color=PALETTE[i % len(PALETTE)],
            label=labels.get(sequence, sequence),
        )
    ax.axvline(threshold, color="#c0504d", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set(xlabel="ICC(2,1)", ylabel="Features")
    ax.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


@styled
def pca_figure(before: pd.DataFrame, after: pd.DataFrame | None, titles: Sequence[str]) -> object:
    """First two principal components coloured by site, before (and after) harmonisation."""
    panels = [before] if after is None else [before, after]
    fig, axes = _figure(3.4 * len(panels), 3.2, ncols=len(panels))
    sites = sorted(set(before["site"]))
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sites)}
    for ax, coords, title in zip(axes, panels, titles, strict=False):
        for site in sites:
            rows = coords.loc[coords["site"] == site]
            ax.scatter(
                rows["pc1"],
                rows["pc2"],
                s=9,
                alpha=0.75,
                color=colours[site],
                label=f"site {site}",
                lw=0,
            )
        ax.set_title(title, loc="left")
        ax.set(
            xlabel=coords.attrs.get("pc1_label", "PC1"), ylabel=coords.attrs.get("pc2_label", "PC2")
        )
    axes[0].legend(frameon=False, loc="best")
    fig.tight_layout()
    return fig


@styled
def segmentation_figure(metrics: pd.DataFrame, labels: dict[str, str]) -> object:
    """Dice and HD95 per sequence (box plots with every case as a point)."""
    fig, axes = _figure(6.4, 2.8, ncols=2)
    sequences = sorted(set(metrics["sequence"]))
    for ax, (metric, title) in zip(axes, (("dice", "Dice"), ("hd95_mm", "HD95 (mm)")), strict=True):
        data = [metrics.loc[metrics["sequence"] == s, metric].dropna() for s in sequences]
        ax.boxplot(data, widths=0.5, showfliers=False, medianprops={"color": PALETTE[1]})
        for i, values in enumerate(data, start=1):
            jitter = np.random.default_rng(i).uniform(-0.12, 0.12, len(values))
            ax.scatter(i + jitter, values, s=6, alpha=0.5, color=PALETTE[0], lw=0)
        ax.set_xticks(range(1, len(sequences) + 1), [labels.get(s, s) for s in sequences])
        ax.set_title(title, loc="left")
    fig.tight_layout()
    return fig


def data_uri(fig: object, fmt: str = "svg", dpi: int = 200) -> str:
    """A figure as a base64 ``data:`` URI (SVG with text as text, or PNG); closes it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    with plt.rc_context({"svg.fonttype": STYLE["svg.fonttype"]}):
        fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight", facecolor="white")  # type: ignore[attr-defined]
    plt.close(fig)
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def file_uri(path: Path) -> str:
    """An image file (PNG, JPEG or SVG) as a base64 ``data:`` URI."""
    mime = {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".svg": "image/svg+xml",
    }.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"{path}: not an image the report can embed")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
