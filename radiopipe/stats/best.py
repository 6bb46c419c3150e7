"""EXPLORATORY: the best model of each split against every other model (paired DeLong, Holm
per split). The best model is selected on the very set it is then tested on, so these p-values
are not valid inference; the report shows them only in an appendix labelled "exploratory:
selected on the test set". The primary analysis is the pre-specified reference
(``evaluate.reference``, fixed in design.json) in delong.csv.

The best model of a split is the one with the highest AUC in the performance table (ties go to
the model name that sorts first). Rows follow ``COMPARISON_COLUMNS`` with
``comparison = "best"`` and ``reference`` = the best model, so ``difference = AUC(model) -
AUC(best)``; the bootstrap uses the same per-split seed as the paired comparisons.
"""

from __future__ import annotations

import pandas as pd

from radiopipe.stats.comparisons import COMPARISON_COLUMNS, paired_comparisons

BEST = "best"


def best_models(performance: pd.DataFrame) -> dict[str, str]:
    """``{split: model}``: the model with the highest AUC on each split."""
    best = {}
    for split, rows in performance.groupby("split", sort=False):
        ranked = rows.dropna(subset=["auc"]).sort_values(["auc", "model"], ascending=[False, True])
        if not ranked.empty:
            best[str(split)] = str(ranked.iloc[0]["model"])
    return best


def best_comparisons(
    frame: pd.DataFrame,
    performance: pd.DataFrame,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired comparisons of each split's best model with every other model on that split."""
    parts = []
    for split, model in best_models(performance).items():
        table = paired_comparisons(
            frame.loc[frame["split"] == split], model, confidence, n_resamples, seed
        )
        if not table.empty:
            family = "exploratory (selected on the test set) " + table["family"].astype(str)
            parts.append(table.assign(comparison=BEST, family=family))
    if not parts:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    return pd.concat(parts, ignore_index=True)
