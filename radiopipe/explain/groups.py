"""Feature importance from SHAP values, per feature and grouped by sequence, image type and class.

SHAP values add up, so a group's value for a patient is the sum of its features' values, and
the group's importance is the mean over patients of the absolute group value (features of
one group that push in opposite directions partly cancel, as they do in the model). The sum
of the member features' own importances is given beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from radiopipe.features import naming

GROUPINGS = ("sequence", "filter", "feature_class")
GROUPING_TITLES = {"sequence": "Sequence", "filter": "Image type", "feature_class": "Feature class"}
SEQUENCE_LABELS = {
    "t2w": "T2WI",
    "cet1w": "CE-T1WI",
    "t1w": "T1WI",
    "dwi": "DWI",
    "adc": "ADC",
    "flair": "FLAIR",
}
OTHER = "other"
_PARTS = ("sequence", "image_type", "filter", "feature_class", "feature")


def describe_features(columns: Sequence[str]) -> pd.DataFrame:
    """One row per column: its parts and display labels; names that do not parse are 'other'."""
    parsed = naming.describe_columns(list(columns)).set_index("column")
    table = parsed.reindex(list(columns)).rename_axis("column").reset_index()
    unparsed = table["sequence"].isna()
    table.loc[unparsed, list(_PARTS)] = OTHER
    table.loc[unparsed, "feature"] = table.loc[unparsed, "column"]
    table["sequence_label"] = table["sequence"].map(lambda s: SEQUENCE_LABELS.get(s, s))
    table["filter_label"] = table["filter"].map(lambda f: naming.FILTER_LABELS.get(f, f))
    table["feature_class_label"] = table["feature_class"].map(
        lambda c: naming.CLASS_LABELS.get(c, c)
    )
    table["label"] = [
        _short_label(row) for row in table.itertuples(index=False)
    ]  # e.g. "T2WI wavelet-LLH GLCM Contrast"
    return table


def _short_label(row: object) -> str:
    if row.sequence == OTHER:  # type: ignore[attr-defined]
        return str(row.column)  # type: ignore[attr-defined]
    return (
        f"{row.sequence_label} {row.image_type} "  # type: ignore[attr-defined]
        f"{row.feature_class_label} {row.feature}"  # type: ignore[attr-defined]
    )


def importance_table(values: np.ndarray, features: Sequence[str]) -> pd.DataFrame:
    """Mean |SHAP| (and mean SHAP) per feature with its parts, ranked (1 = most important)."""
    values = np.asarray(values, dtype=np.float64)
    table = describe_features(features)
    table["mean_abs_shap"] = np.abs(values).mean(axis=0) if len(values) else np.nan
    table["mean_shap"] = values.mean(axis=0) if len(values) else np.nan
    table["rank"] = table["mean_abs_shap"].rank(ascending=False, method="first").astype(int)
    return table.sort_values("rank", ignore_index=True)


def group_values(values: np.ndarray, features: Sequence[str], grouping: str) -> pd.DataFrame:
    """Per-patient SHAP value of each group (the sum over its features): (n, groups)."""
    if grouping not in GROUPINGS:
        raise ValueError(f"grouping must be one of {GROUPINGS}, got {grouping!r}")
    groups = describe_features(features)[f"{grouping}"].to_numpy()
    frame = pd.DataFrame(np.asarray(values, dtype=np.float64), columns=list(features))
    return frame.T.groupby(groups, sort=True).sum().T


def grouped_importance(values: np.ndarray, features: Sequence[str]) -> pd.DataFrame:
    """Importance of each sequence, image type and feature class (see the module docstring).

    Columns: ``grouping, group, label, n_features, importance, importance_share,
    feature_importance_sum, mean_shap``.
    """
    values = np.asarray(values, dtype=np.float64)
    described = describe_features(features)
    per_feature = np.abs(values).mean(axis=0) if len(values) else np.zeros(len(features))
    rows = []
    for grouping in GROUPINGS:
        sums = group_values(values, features, grouping)
        labels = dict(zip(described[grouping], described[f"{grouping}_label"], strict=True))
        importance = sums.abs().mean(axis=0)
        total = float(importance.sum())
        for group in sums.columns:
            members = described[grouping].to_numpy() == group
            rows.append(
                {
                    "grouping": grouping,
                    "group": group,
                    "label": labels.get(group, group),
                    "n_features": int(members.sum()),
                    "importance": float(importance[group]),
                    "importance_share": float(importance[group] / total) if total else np.nan,
                    "feature_importance_sum": float(per_feature[members].sum()),
                    "mean_shap": float(sums[group].mean()),
                }
            )
    table = pd.DataFrame(rows)
    return table.sort_values(["grouping", "importance"], ascending=[True, False], ignore_index=True)
