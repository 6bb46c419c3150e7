"""Discrimination and threshold metrics for every model and split (the study's Table 3),
the paired and unpaired DeLong comparisons, and per-fold AUCs of pooled CV splits."""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from radiopipe.contracts import EvaluateLayout, Split
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Cell, Paragraph, Section, Table
from radiopipe.report.figures import split_title
from radiopipe.report.formatting import ci, num, p_text, signed

METRICS = (
    ("accuracy", "Accuracy"),
    ("sensitivity", "Sensitivity"),
    ("specificity", "Specificity"),
    ("precision", "Precision"),
    ("npv", "NPV"),
)


def build(ctx: ReportContext) -> Section:
    """One table per split, then the comparisons."""
    section = Section("performance", "Model performance")
    table = ctx.performance
    if table is None:
        section.note = ctx.run.notes.get("evaluate", "no evaluate/performance.csv")
        return section
    section.blocks.append(Paragraph(_intro(ctx), "small"))
    for split in ctx.splits:  # apparent (train) performance: appendix only
        section.blocks.append(_split_table(ctx, table.loc[table["split"] == split], split))
    from radiopipe.report.summary import sensitivity_table

    sensitivity = sensitivity_table(ctx)  # next to the main tables (issue 12 item 3)
    if sensitivity is not None:
        section.blocks.append(sensitivity)
    unpaired = _unpaired(ctx)
    if unpaired is not None:
        section.blocks.append(unpaired)
    folds = _fold_table(ctx, table)
    if folds is not None:
        section.blocks.append(folds)
    repeats = _repeat_table(ctx)
    if repeats is not None:
        section.blocks.append(repeats)
    return section


def _repeat_table(ctx: ReportContext) -> Table | None:
    """The spread of the out-of-fold AUC over repeats of the outer CV (cv.outer_repeats > 1)."""
    from radiopipe.modeling.repeats import repeat_spread

    per_repeat = ctx.run.train.get("cv_repeats")
    if per_repeat is None or per_repeat.empty or per_repeat["repeat"].nunique() < 2:
        return None
    body = [
        [ctx.model_label(r.model), split_title(str(r.split)), str(int(r.repeats)),
         f"{num(r.mean_auc)} ± {num(r.sd_auc)}", f"{num(r.min_auc)} – {num(r.max_auc)}"]
        for r in repeat_spread(per_repeat).itertuples()
    ]  # fmt: skip
    return Table(
        "Out-of-fold AUC per repeat of the outer cross-validation",
        ["Model", "Split", "Repeats", "Mean ± SD", "Range"],
        body,
        align="llrrr",
    )


def _intro(ctx: ReportContext) -> str:
    settings = ctx.evaluate_config
    boot = settings.get("n_bootstrap", "the configured number of")
    return (
        f"AUC with its DeLong 95% confidence interval; threshold metrics at each model's frozen "
        f"operating threshold with stratified bootstrap 95% CIs ({boot} resamples). ΔAUC and p "
        f"compare each model with the reference model ({ctx.model_label(ctx.reference)}) on the "
        "same patients (paired DeLong test; p adjusted by Holm's method over the declared "
        "family of each split: the reference against every other model run; the final models' "
        "predictions of their own training patients are not tested)."
    )


def _split_table(ctx: ReportContext, rows: pd.DataFrame, split: str) -> Table:
    order = {m: i for i, m in enumerate(ctx.models)}
    rows = rows.assign(_order=rows["model"].map(order)).sort_values("_order")
    best = rows["auc"].max()
    header = [
        "Model",
        "n (events)",
        "AUC (95% CI)",
        *[t for _, t in METRICS],
        f"ΔAUC vs {ctx.model_label(ctx.reference)}",
        "p (Holm)",
    ]
    body, styles = [], []
    for r in rows.itertuples():
        cells: list[Cell | str] = [
            Cell(ctx.model_label(r.model), strong=r.model == ctx.reference),
            f"{int(r.n)} ({int(r.n_cases)})",
            Cell(num(r.auc), ci(r.auc_ci_low, r.auc_ci_high), strong=r.auc == best),
        ]
        for metric, _ in METRICS:
            cells.append(
                Cell(
                    num(getattr(r, metric), 3),
                    ci(getattr(r, f"{metric}_ci_low"), getattr(r, f"{metric}_ci_high")),
                )
            )
        is_ref = r.model == ctx.reference
        cells.append("ref." if is_ref else signed(getattr(r, "auc_diff_vs_reference", None)))
        cells.append("" if is_ref else p_text(getattr(r, "delong_p_holm", None)))
        body.append(cells)
        styles.append("best" if r.auc == best else "")
    thresholds = ", ".join(
        f"{ctx.model_label(r.model)} {num(r.threshold, 3)}"
        for r in rows.itertuples()
        if pd.notna(r.threshold)
    )
    sources = ", ".join(sorted(set(rows["threshold_source"].dropna().astype(str))))
    note = Markup("Thresholds (from {}): {}. Bold: highest AUC.").format(sources, thresholds)
    return Table(
        f"Discrimination and threshold metrics, {split_title(split).lower()}",
        header,
        body,
        align="lcc" + "c" * len(METRICS) + "rr",
        footnote=note,
        row_styles=styles,
        wide=True,
    )


def _unpaired(ctx: ReportContext) -> Table | None:
    delong = ctx.run.evaluate.get(EvaluateLayout.FILES["delong"])
    if delong is None:
        return None
    rows = delong.loc[delong["comparison"] == "unpaired"]
    if rows.empty:
        return None
    body = [
        [
            ctx.model_label(r.model),
            str(r.split).replace("_", " "),
            num(r.auc_model),
            num(r.auc_reference),
            Cell(signed(r.difference), ci(r.ci_low, r.ci_high)),
            p_text(r.p_value),
            p_text(r.p_holm),
        ]
        for r in rows.itertuples()
    ]
    return Table(
        "Each model's AUC on two cohorts (unpaired DeLong test)",
        ["Model", "Cohorts", "AUC first", "AUC second", "Difference (95% CI)", "p", "p (Holm)"],
        body,
        align="llrrcrr",
        footnote="A significant drop from the internal to the external test set suggests the "
        "model transfers imperfectly to the other centre.",
    )


def _fold_table(ctx: ReportContext, table: pd.DataFrame) -> Table | None:
    if "fold_auc_mean" not in table or table["fold_auc_mean"].isna().all():
        return None
    rows = table.loc[table["fold_auc_mean"].notna() & (table["split"] != Split.TRAIN)]
    body = [
        [
            ctx.model_label(r.model),
            split_title(str(r.split)),
            str(int(r.n_folds)),
            f"{num(r.fold_auc_mean)} ± {num(r.fold_auc_sd)}",
        ]
        for r in rows.itertuples()
    ]
    return Table(
        "AUC per outer cross-validation fold",
        ["Model", "Split", "Folds", "Mean ± SD"],
        body,
        align="llrr",
    )
