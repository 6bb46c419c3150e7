"""Known answer (synthetic cohort): how much of the available signal each model recovered.

Shown only when the evaluate stage wrote ``known_answer.csv``, i.e. when the cohort is the
synthetic one whose true outcome probabilities are known; a real cohort has no such section.
"""

from __future__ import annotations

import pandas as pd

from radiopipe.contracts import EvaluateLayout
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Paragraph, Section, Table
from radiopipe.report.figures import split_title
from radiopipe.report.formatting import num

FEATURES_SHOWN = 12


def build(ctx: ReportContext) -> Section:
    """The recovered share of the oracle AUC per split and model, and the selected features'
    strongest correlations with the hidden properties."""
    section = Section("known_answer", "Known answer (synthetic cohort)")
    table = ctx.run.evaluate.get(EvaluateLayout.FILES["known_answer"])
    if table is None or table.empty:
        section.note = "a real cohort: no known answer"
        return section
    section.blocks.append(Paragraph(_INTRO, "small"))
    section.blocks.append(_recovery_table(ctx, table))
    features = ctx.run.evaluate.get(EvaluateLayout.FILES["known_answer_features"])
    if features is not None and not features.empty:
        section.blocks.append(_feature_table(features))
    return section


_INTRO = (
    "The synthetic cohort records each patient's true outcome probability. Its AUC (oracle) is "
    "the best any model can reach on these patients; recovered = (AUC - 0.5) / (oracle AUC - "
    "0.5) is the share of that discrimination a model reached, and Spearman's rho compares "
    "the model's probabilities with the true ones. These numbers describe the simulator and "
    "the pipeline, never a clinical population."
)


def _recovery_table(ctx: ReportContext, table: pd.DataFrame) -> Table:
    order = {s: i for i, s in enumerate(ctx.splits)}  # never the apparent (training) split
    rows = []
    shown = table.loc[table["split"].isin(order)]
    shown = shown.assign(o=shown["split"].map(order)).sort_values(["o", "model"])
    for record in shown.itertuples():
        rows.append([split_title(record.split), ctx.model_label(record.model), str(record.n),
                     num(record.auc, 3), num(record.oracle_auc, 3), num(record.recovered, 2),
                     num(record.spearman_true, 2)])  # fmt: skip
    return Table(
        "Discrimination against the known answer",
        ["Split", "Model", "n", "AUC", "Oracle AUC", "Recovered", "Spearman (true p)"],
        rows,
        align="llrrrrr",
    )


def _feature_table(features: pd.DataFrame) -> Table:
    strongest = features.assign(a=features["spearman"].abs()).sort_values("a", ascending=False)
    best = strongest.drop_duplicates("feature").head(FEATURES_SHOWN)
    rows = [[r.feature, r.property, num(r.spearman, 2), str(r.selected_in_folds)]
            for r in best.itertuples()]  # fmt: skip
    return Table(
        "Selected features and the hidden property each tracks best",
        ["Feature", "Hidden property", "Spearman", "Selected in folds"],
        rows,
        align="llrr",
    )
