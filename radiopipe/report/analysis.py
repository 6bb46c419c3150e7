"""Interactive analysis of a run (the notebooks): feature tables joined with the cohort,
distributions by site and outcome, correlation clustering, ICC summaries, Table 3 at a glance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radiopipe.contracts import TRAINING_SPLITS
from radiopipe.errors import RadiopipeError
from radiopipe.explain.groups import describe_features
from radiopipe.features import naming
from radiopipe.report.contents import RunContents
from radiopipe.report.figures import PALETTE, split_title, styled
from radiopipe.report.formatting import ci, num, p_text

META = ("site", "split", "label")


def feature_frame(run: RunContents) -> pd.DataFrame:
    """Features indexed by patient with the manifest's site, split and label joined on."""
    if run.features_path is None or run.manifest is None:
        raise RadiopipeError(f"{run.root}: needs extract/features.parquet and cohort/manifest.csv")
    features = pd.read_parquet(run.features_path)
    features["patient_id"] = features["patient_id"].astype(str)
    meta = run.manifest.loc[:, ["patient_id", *META]].astype({"patient_id": str})
    frame = meta.merge(features, on="patient_id", how="inner").set_index("patient_id")
    frame["label"] = pd.to_numeric(frame["label"], errors="coerce")
    return frame


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The feature columns of a feature frame."""
    return [c for c in frame.columns if c not in META]


def signature_columns(run: RunContents, frame: pd.DataFrame, n: int = 8) -> list[str]:
    """The final model's selected features (at most ``n``), or else the ``n`` features most
    related to the outcome (see :func:`outcome_ranked_columns`)."""
    selected = run.train.get("selected")
    if selected is not None:
        final = [f for f in selected.loc[selected["fold"] < 0, "feature"] if f in frame.columns]
        if final:
            return final[:n]
    return outcome_ranked_columns(frame, n)


def outcome_ranked_columns(frame: pd.DataFrame, n: int = 50) -> list[str]:
    """The ``n`` features with the largest absolute standardised mean difference between the
    outcome groups of the training patients (a view for exploration, not a selection step)."""
    train = frame.loc[frame["split"].isin(TRAINING_SPLITS)]
    values = train[feature_columns(frame)]
    groups = [values.loc[train["label"] == k] for k in (0, 1)]
    effect = (groups[1].mean() - groups[0].mean()).abs() / values.std().replace(0, np.nan)
    return list(effect.dropna().sort_values(ascending=False).index[:n])


@styled
def distribution_figure(frame: pd.DataFrame, columns: list[str], label_names: dict) -> object:
    """Box plots of each feature by site, split by outcome (one panel per feature)."""
    import matplotlib.pyplot as plt

    labels = dict(zip(columns, describe_features(columns)["label"], strict=True))
    sites = sorted(frame["site"].astype(str).unique())
    ncols = min(4, len(columns))
    nrows = int(np.ceil(len(columns) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.4 * nrows), squeeze=False)
    for ax, column in zip(axes.ravel(), columns, strict=False):
        data, positions, colours = [], [], []
        for i, site in enumerate(sites):
            for k, outcome in enumerate((0, 1)):
                rows = frame.loc[(frame["site"] == site) & (frame["label"] == outcome), column]
                data.append(rows.dropna().to_numpy())
                positions.append(i * 3 + k)
                colours.append(PALETTE[k])
        parts = ax.boxplot(
            data, positions=positions, widths=0.8, patch_artist=True, showfliers=False
        )
        for patch, colour in zip(parts["boxes"], colours, strict=True):
            patch.set(facecolor=colour, alpha=0.45)
        ax.set_xticks([i * 3 + 0.5 for i in range(len(sites))], [f"site {s}" for s in sites])
        ax.set_title(labels[column], fontsize=7, loc="left")
    for ax in axes.ravel()[len(columns) :]:
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=PALETTE[k], alpha=0.45) for k in (0, 1)]
    fig.legend(handles, [label_names[0], label_names[1]], loc="upper right", frameon=False)
    fig.tight_layout()
    return fig


def correlation_order(frame: pd.DataFrame, columns: list[str], method: str = "spearman"):
    """The correlation matrix of ``columns`` reordered by hierarchical clustering (1 - |r|)."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    corr = frame[columns].corr(method=method).fillna(0.0)
    distance = 1.0 - corr.abs().to_numpy()
    np.fill_diagonal(distance, 0.0)
    order = leaves_list(linkage(squareform(np.clip(distance, 0, None), checks=False), "average"))
    names = [columns[i] for i in order]
    return corr.loc[names, names]


@styled
def correlation_figure(frame: pd.DataFrame, columns: list[str], method: str = "spearman"):
    """Clustered heatmap of the features' correlations."""
    import matplotlib.pyplot as plt

    corr = correlation_order(frame, columns, method)
    size = min(9.0, 2.5 + 0.12 * len(columns))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(corr.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    if len(columns) <= 40:
        labels = dict(zip(columns, describe_features(columns)["label"], strict=True))
        ax.set_xticks(range(len(corr)), [labels[c] for c in corr.columns], rotation=90, fontsize=5)
        ax.set_yticks(range(len(corr)), [labels[c] for c in corr.index], fontsize=5)
    else:
        ax.set(xticks=[], yticks=[])
    ax.grid(False)
    fig.colorbar(image, ax=ax, shrink=0.7, label=f"{method.capitalize()} correlation")
    fig.tight_layout()
    return fig


def icc_summary(icc: pd.DataFrame, threshold: float = 0.8) -> pd.DataFrame:
    """Share of features with ICC above ``threshold`` per feature class and sequence."""
    table = icc.assign(robust=icc["icc"] > threshold).pivot_table(
        index="feature_class", columns="sequence", values="robust", aggfunc="mean"
    )
    labels = naming.CLASS_LABELS
    table.index = [labels.get(c, c) for c in table.index]
    return table


def performance_overview(performance: pd.DataFrame, reference: str = "stack") -> pd.DataFrame:
    """Table 3 at a glance: AUC (95% CI) and Holm-adjusted DeLong p per model and split."""
    rows = []
    for r in performance.itertuples():
        p = getattr(r, "delong_p_holm", np.nan)
        rows.append(
            {
                "model": r.model,
                "split": split_title(str(r.split)),
                "AUC (95% CI)": f"{num(r.auc)} ({ci(r.auc_ci_low, r.auc_ci_high)})",
                f"p vs {reference} (Holm)": "" if r.model == reference else p_text(p),
            }
        )
    table = pd.DataFrame(rows)
    return table.pivot(index="model", columns="split").swaplevel(axis=1).sort_index(axis=1)
