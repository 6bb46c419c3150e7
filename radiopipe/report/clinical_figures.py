"""Figures of the clinical section: the nomogram (drawn from train's points tables, nothing
refitted) and the rad-score by outcome per split."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from radiopipe.modeling.clinical import level_text
from radiopipe.report.figures import PALETTE, _figure, split_title, styled

LABEL_GAP = 6.0  # points-axis units between two labels on one line
PROBABILITY_TICKS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def _tick_text(value: float) -> str:
    return f"{value:g}"


@styled
def nomogram_figure(
    points: pd.DataFrame, totals: pd.DataFrame, label: Callable[[str], str]
) -> object:
    """Points axis, one axis per predictor, total points, predicted probability."""
    predictors = list(dict.fromkeys(points["predictor"]))
    n_rows = len(predictors) + 3
    fig, (ax,) = _figure(7.2, 0.55 * n_rows + 0.4)
    ax.grid(False)
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_xticks([])
    ax.set_yticks([])
    rows = ["Points", *[label(p) for p in predictors], "Total points", "Probability"]
    y = {name: n_rows - 1 - i for i, name in enumerate(rows)}
    _axis(ax, y["Points"], np.arange(0, 101, 10), np.arange(0, 101, 10), _tick_text)
    for name in predictors:
        rows_of = points[points["predictor"] == name]
        if rows_of["kind"].iloc[0] == "categorical":
            texts = [str(level_text(v)) for v in rows_of["level"]]
            _axis(ax, y[label(name)], rows_of["points"].to_numpy(float), texts, str, stagger=True)
        else:
            values = rows_of["value"].to_numpy(float)
            _axis(ax, y[label(name)], rows_of["points"].to_numpy(float), values, _tick_text)
    total = totals["total_points"].to_numpy(float)
    width = total.max() if total.max() > 0 else 1.0
    total_ticks = _nice(0.0, width)
    _axis(ax, y["Total points"], total_ticks * 100.0 / width, total_ticks, _tick_text)
    probability = totals["probability"].to_numpy(float)
    shown = [p for p in PROBABILITY_TICKS if probability.min() <= p <= probability.max()]
    at = np.interp(shown, probability, total) * 100.0 / width
    _axis(ax, y["Probability"], at, shown, _tick_text, stagger=True)
    for name, row in y.items():
        ax.text(-3, row, name, ha="right", va="center", fontsize=8)
    ax.set_xlim(-35, 104)
    ax.set_ylim(-0.8, n_rows - 0.4)
    fig.tight_layout()
    return fig


def _nice(low: float, high: float) -> np.ndarray:
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(nbins=10).tick_values(low, high)
    return ticks[(ticks >= low - 1e-9) & (ticks <= high + 1e-9)]


def _axis(ax, row, positions, values, fmt, stagger: bool = False) -> None:
    """A horizontal axis at ``row`` with ticks at ``positions`` labelled ``values``."""
    positions = np.asarray(positions, dtype=float)
    ax.plot([positions.min(), positions.max()], [row, row], color="#333333", lw=0.9)
    last = [-np.inf, -np.inf]  # last labelled position per label line
    order = np.argsort(positions, kind="stable")
    for i, k in enumerate(order):
        x, value = positions[k], values[k]
        ax.plot([x, x], [row, row + 0.12], color="#333333", lw=0.8)
        line = i % 2 if stagger else 0
        if x - last[line] < LABEL_GAP and not (stagger and x - last[1 - line] >= LABEL_GAP):
            continue  # too close to a neighbour: tick without label
        if x - last[line] < LABEL_GAP:
            line = 1 - line
        last[line] = x
        offset = 0.34 if line else 0.2
        ax.text(x, row + offset, fmt(value), ha="center", va="bottom", fontsize=6.5)


@styled
def radscore_figure(
    radscores: pd.DataFrame, tests: pd.DataFrame, label_name: Callable[[int], str]
) -> object:
    """Box plots of the rad-score by outcome, one panel per split, Mann-Whitney p above."""
    splits = list(tests["split"])
    fig, axes = _figure(2.4 * max(len(splits), 1) + 0.6, 2.8, ncols=max(len(splits), 1))
    for ax, split in zip(axes, splits, strict=False):
        rows = radscores[radscores["split"] == split]
        groups = [rows.loc[rows["label"] == k, "radscore"].to_numpy(float) for k in (0, 1)]
        box = ax.boxplot(groups, widths=0.55, patch_artist=True, showfliers=False)
        for patch, colour in zip(box["boxes"], (PALETTE[1], PALETTE[0]), strict=True):
            patch.set(facecolor=colour, alpha=0.35)
        rng = np.random.default_rng(0)
        for k, values in enumerate(groups, start=1):
            jitter = rng.uniform(-0.12, 0.12, len(values))
            ax.scatter(k + jitter, values, s=6, color="#333333", alpha=0.6, lw=0)
        ax.set_xticks([1, 2], [label_name(0), label_name(1)])
        p = float(tests.loc[tests["split"] == split, "p_value"].iloc[0])
        p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
        ax.set_title(f"{split_title(split)}\nMann-Whitney {p_text}", fontsize=8)
        ax.grid(axis="x", visible=False)
    axes[0].set_ylabel("Rad-score")
    fig.tight_layout()
    return fig
