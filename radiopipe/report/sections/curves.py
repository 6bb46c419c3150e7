"""ROC curves with bootstrap CI bands, calibration plots and decision curves, per split."""

from __future__ import annotations

from radiopipe.contracts import Split
from radiopipe.report import figures
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Figure, FigureRow, Paragraph, Section, Table
from radiopipe.report.formatting import ci, num


def _pairs(figs: list[tuple[str, Figure]], what: str, caption: str) -> list[FigureRow]:
    """(split, figure) pairs two per row, each row captioned with its sets (one numbered figure
    per row). The apparent (training resubstitution) split never reaches here."""
    rows = []
    for i in range(0, len(figs), 2):
        part = figs[i : i + 2]
        sets = " and ".join(figures.split_title(split).lower() for split, _ in part)
        text = f"{what}, {sets}." + (f" {caption}" if caption else "")
        rows.append(FigureRow([f for _, f in part], text))
    return rows


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
        labels = dict(ctx.model_labels)
        if perf is not None:
            rows = perf.loc[perf["split"] == split]
            labels |= {
                r.model: f"{ctx.model_label(r.model)}: {num(r.auc)} "
                f"({ci(r.auc_ci_low, r.auc_ci_high)})"
                for r in rows.itertuples()
            }
        fig = figures.roc_figure(table, split, labels, sorted(bands), ctx.reference, ctx.colours)
        figs.append((split, Figure(ctx.figure(fig))))
    caption = (
        f"Legend: AUC (95% CI). Shaded: pointwise 95% bootstrap confidence band of the "
        f"sensitivity at each false-positive rate for "
        f"{', '.join(ctx.model_label(b) for b in sorted(bands))}."
    )
    section.blocks += _pairs(figs, "ROC curves of every model", caption)
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
            (
                s,
                Figure(
                    ctx.figure(
                        figures.calibration_figure(
                            reliability, s, shown, ctx.colours, ctx.model_labels
                        )
                    )
                ),
            )
            for s in ctx.splits
            if s in set(reliability["split"])
        ]
        section.blocks += _pairs(
            figs,
            f"Calibration of {' and '.join(ctx.model_label(m) for m in shown)}",
            "Observed event rate in quantile bins of the predicted "
            "probability (95% Wilson intervals); dashed: perfect calibration.",
        )
    if summary is not None:
        section.blocks.append(_calibration_table(ctx, summary))
    return section


def _calibration_table(ctx: ReportContext, summary) -> Table:
    body = []
    for r in summary.itertuples():
        if str(r.split) == Split.TRAIN:  # apparent calibration: not a main result
            continue
        body.append(
            [
                ctx.model_label(r.model),
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
        (
            s,
            Figure(
                ctx.figure(
                    figures.decision_figure(
                        curves, s, ctx.models, ctx.reference, ctx.colours, ctx.model_labels
                    )
                )
            ),
        )
        for s in ctx.splits
        if s in set(curves["split"])
    ]
    section.blocks += _pairs(
        figs,
        "Decision curves",
        "Net benefit of treating the patients whose predicted probability exceeds each "
        "threshold, against treating all and treating none.",
    )
    return section
