"""Harmonisation diagnostics as the train stage wrote them (``train/harmonisation.csv`` and
``train/harmonisation_pca.csv``, see ``radiopipe.modeling.site_effects``): site separability
and PCA coordinates before and (when the model has a ComBat step) after harmonisation.

The report reads these files; it neither loads the model nor recomputes anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from radiopipe.errors import RadiopipeError
from radiopipe.modeling.site_effects import AFTER, BEFORE, NONE, Separability
from radiopipe.report.contents import RunContents


@dataclass
class Diagnostics:
    """Site separability and PCA coordinates before and (when available) after ComBat."""

    before: Separability
    pca_before: pd.DataFrame
    after: Separability | None
    pca_after: pd.DataFrame | None
    status: str  # where the harmonised features came from, or why there are none


def diagnostics(run: RunContents) -> Diagnostics:
    """The harmonisation diagnostics the train stage wrote; an error says why there are none."""
    table = run.train.get("harmonisation")
    if table is None:
        raise RadiopipeError(
            run.notes.get(
                "harmonisation",
                "no train/harmonisation.csv: the train stage wrote no harmonisation diagnostics",
            )
        )
    rows = {str(r["features"]): r for _, r in table.iterrows()}
    if BEFORE not in rows:
        status = rows[NONE]["status"] if NONE in rows else "no diagnostics computed"
        raise RadiopipeError(str(status))
    pca = run.train.get("harmonisation_pca")
    if pca is None:
        raise RadiopipeError("train/harmonisation_pca.csv is missing")
    after = _separability(rows[AFTER]) if AFTER in rows else None
    return Diagnostics(
        _separability(rows[BEFORE]),
        _coordinates(pca, BEFORE),
        after,
        _coordinates(pca, AFTER) if after is not None else None,
        str(rows[BEFORE]["status"]),
    )


def _separability(row: pd.Series) -> Separability:
    return Separability(
        float(row["auc"]), int(row["n_patients"]), int(row["n_features"]), int(row["n_sites"])
    )


def _coordinates(pca: pd.DataFrame, features: str) -> pd.DataFrame:
    """One panel's coordinates, with the axis labels the figure shows."""
    part = pca.loc[pca["features"] == features].set_index("patient_id")
    out = part[["pc1", "pc2"]].astype(float).copy()
    out["site"] = part["site"].astype(str)
    if len(part):
        out.attrs["pc1_label"] = f"PC1 ({float(part['pc1_variance'].iloc[0]):.0%} of variance)"
        out.attrs["pc2_label"] = f"PC2 ({float(part['pc2_variance'].iloc[0]):.0%} of variance)"
    return out
