"""ROC curves with bootstrap CI bands, calibration plots and decision curves, per split."""

from __future__ import annotations

from radiopipe.report import figures
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Figure, FigureRow, Paragraph, Section, Table
from radiopipe.report.formatting import ci, num


def _pairs(figs: list[Figure], caption: str) -> list[FigureRow]:
    """Figures two per row."""
    return [FigureRow(figs[i : i + 2], caption if i == 0 else "") for i in range(0, len(figs), 2)]


def roc(ctx: ReportContext) -> Section:
    """ROC curves of every model per split; CI band for the pre-specified reference."""
    section = Section("roc", "ROC curves")
    table = ctx.run.evaluate.get("roc_curves.parquet")
    if table is None:
        section.note = "no evaluate/roc_curves.parquet"
        return section
    bands = {ctx.reference}
    perf = ctx.performance
    figs = []
    for split in [s for s in ctx.splits if s in set(table["split"])]:
        labels = None
        if perf is not None:
            rows = perf.loc[perf["split"] == split]
            labels = {
                r.model: f"{r.model}: {num(r.auc)} ({ci(r.auc_ci_low, r.auc_ci_high)})"
                for r in rows.itertuples()
            }
        fig = figures.roc_figure(table, split, labels, sorted(bands), ctx.reference, ctx.colours)
        figs.append(Figure(ctx.figure(fig)))
    caption = (
        f"Shaded: pointwise 95% bootstrap confidence band of the sensitivity at each "
        f"false-positive rate for {', '.join(sorted(bands))}."
    )
    section.blocks += _pairs(figs, caption)
    return section


def calibration(ctx: ReportContext) -> Section:
    """Reliability diagrams per split and the calibration table."""
    section = Section("calibration", "Calibration")
    reliability = ctx.run.evaluate.get("reliability.csv")
    summary = ctx.run.evaluate.get("calibration.csv")
    if reliability is None and summary is None:
        section.note = "no evaluate/calibration.csv or reliability.csv"
        return section
    if reliability is not None:
        shown = [ctx.reference]
        figs = [
            Figure(ctx.figure(figures.calibration_figure(reliability, s, shown, ctx.colours)))
            for s in ctx.splits
            if s in set(reliability["split"])
        ]
        section.blocks += _pairs(
            figs,
            "Observed event rate in quantile bins of the predicted "
            "probability (95% Wilson intervals); dashed: perfect calibration.",
        )
    if summary is not None:
        section.blocks.append(_calibration_table(ctx, summary))
    return section


def _calibration_table(ctx: ReportContext, summary) -> Table:
    body = []
    for r in summary.itertuples():
        body.append(
            [
                str(r.model),
                figures.split_title(str(r.split)),
                num(r.brier),
                num(r.brier_reference),
                num(r.intercept, 2),
                ci(r.intercept_ci_low, r.intercept_ci_high, 2),
                num(r.slope, 2),
                ci(r.slope_ci_low, r.slope_ci_high, 2),
            ]
        )
    return Table(
        "Calibration",
        [
            "Model",
            "Split",
            "Brier",
            "Brier (prevalence only)",
            "Intercept",
            "95% CI",
            "Slope",
            "95% CI",
        ],
        body,
        align="llrrrrrr",
        footnote="Calibration intercept (calibration-in-the-large, ideal 0) and slope (ideal 1; "
        "below 1: predictions too extreme) from logistic recalibration of the log-odds.",
        wide=True,
    )


def decision(ctx: ReportContext) -> Section:
    """Decision curves per split."""
    section = Section("decision", "Decision curves")
    curves = ctx.run.evaluate.get("decision_curve.csv")
    if curves is None:
        section.note = "no evaluate/decision_curve.csv"
        return section
    section.blocks.append(
        Paragraph(
            "Net benefit of acting on each model's prediction across threshold probabilities, "
            "against treating every patient and treating none (Vickers & Elkin, 2006).",
            "small",
        )
    )
    figs = [
        Figure(
            ctx.figure(figures.decision_figure(curves, s, ctx.models, ctx.reference, ctx.colours))
        )
        for s in ctx.splits
        if s in set(curves["split"])
    ]
    section.blocks += _pairs(figs, "")
    return section
