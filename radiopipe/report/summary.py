"""The first-page summary: which model is best, with its AUC and CI, and whether its
differences to the other models are significant (paired DeLong, Holm-adjusted)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
from markupsafe import Markup

from radiopipe.contracts import OOF_SPLITS, TEST_SPLITS, EvaluateLayout, Split
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Callout, Cell, Table
from radiopipe.report.figures import split_title
from radiopipe.report.formatting import ci, num, p_text, signed

log = logging.getLogger(__name__)


@dataclass
class Comparison:
    """The best model against one other model on the primary split."""

    model: str
    difference: float  # AUC(best) - AUC(other)
    ci_low: float
    ci_high: float
    p_holm: float


@dataclass
class Verdict:
    """The best model on the primary split and its comparisons."""

    split: str
    best: str
    row: pd.Series
    comparisons: list[Comparison]
    others: dict[str, pd.Series]  # the best model's rows on the other splits


def best_model(ctx: ReportContext) -> Verdict | None:
    """The model with the highest AUC on the first primary split present (computed once)."""
    if "verdict" not in ctx.memo:
        ctx.memo["verdict"] = _best_model(ctx)
    return ctx.memo["verdict"]  # type: ignore[return-value]


def _best_model(ctx: ReportContext) -> Verdict | None:
    table = ctx.performance
    if table is None or table.empty:
        return None
    split = next((s for s in ctx.config.primary_splits if s in ctx.splits), ctx.splits[-1])
    rows = table.loc[table["split"] == split].sort_values(["auc", "model"], ascending=[False, True])
    top = rows.iloc[0]
    best = str(top["model"])
    others = {
        str(r["split"]): r
        for _, r in table.loc[table["model"] == best].iterrows()
        if r["split"] != split
    }
    return Verdict(split, best, top, _comparisons(ctx, split, best), others)


def _comparisons(ctx: ReportContext, split: str, best: str) -> list[Comparison]:
    """Best vs each other model, as the evaluate stage wrote them: evaluate/best_comparisons.csv
    (each split's best model against the others), else the paired rows of delong.csv when the
    best model is the evaluation's reference. Nothing is recomputed here."""
    table = ctx.run.evaluate.get(EvaluateLayout.FILES["best_comparisons"])
    if table is None:
        delong = ctx.run.evaluate.get(EvaluateLayout.FILES["delong"])
        table = None if delong is None else delong.loc[delong["comparison"] == "paired"]
        if table is None or not (table["reference"] == best).any():
            ctx.warn(
                f"evaluate/best_comparisons.csv is missing (an evaluation made by an older "
                f"radiopipe; re-run evaluate) and {best} is not the evaluation's reference: the "
                "first page cannot test the best model against the others"
            )
            return []
    rows = table.loc[(table["split"] == split) & (table["reference"] == best)]
    return [
        Comparison(str(r.model), -r.difference, -r.ci_high, -r.ci_low, r.p_holm)
        for r in rows.itertuples()
    ]


def summary_callout(ctx: ReportContext) -> Callout | None:
    """The key findings box of the first page."""
    verdict = best_model(ctx)
    if verdict is None:
        return None
    row, alpha = verdict.row, ctx.config.alpha
    lines: list[str | Markup] = []
    n = f"n = {int(row['n'])}, {int(row['n_cases'])} {ctx.label_name(1)}"
    lines.append(
        Markup(
            "<strong>{}</strong> had the highest AUC on the {} set ({}): {} (95% CI {})."
        ).format(
            verdict.best,
            split_title(verdict.split).lower(),
            n,
            num(row["auc"]),
            ci(row["auc_ci_low"], row["auc_ci_high"]),
        )
    )
    for split in (*TEST_SPLITS, *OOF_SPLITS):
        other = verdict.others.get(split)
        if other is not None and split != verdict.split:
            lines.append(
                f"On the {split_title(split).lower()} set its AUC was {num(other['auc'])} "
                f"(95% CI {ci(other['auc_ci_low'], other['auc_ci_high'])})."
            )
    lines += _significance_lines(verdict, alpha)
    threshold = row.get("threshold")
    if pd.notna(threshold):
        lines.append(
            f"At its frozen threshold ({num(threshold, 2)}, from {row['threshold_source']}): "
            f"sensitivity {num(row['sensitivity'], 2)}, specificity {num(row['specificity'], 2)}, "
            f"accuracy {num(row['accuracy'], 2)}."
        )
    return Callout("Key findings", lines)


def _significance_lines(verdict: Verdict, alpha: float) -> list[str | Markup]:
    if not verdict.comparisons:
        return ["No paired comparison with other models is available for this split."]
    better = [c for c in verdict.comparisons if c.p_holm < alpha]
    similar = [c for c in verdict.comparisons if not c.p_holm < alpha]

    def listing(items: list[Comparison]) -> Markup:
        parts = [
            Markup("{} (ΔAUC {}, p = {})").format(c.model, signed(c.difference), p_text(c.p_holm))
            for c in items
        ]
        return Markup(", ").join(parts)

    lines: list[str | Markup] = []
    if better:
        lines.append(
            Markup(
                "Its AUC was significantly higher than that of {} (paired DeLong test, "
                "Holm-adjusted, α = {})."
            ).format(listing(better), alpha)
        )
    if similar:
        lines.append(
            Markup(
                "It was <strong>not significantly different</strong> from {} "
                "(Holm-adjusted p ≥ {})."
            ).format(listing(similar), alpha)
        )
    if not better:
        lines.append(
            "No difference between the best model and the others reached significance: the "
            "data do not show that one model discriminates better than the others."
        )
    return lines


def headline_table(ctx: ReportContext, verdict: Verdict | None) -> Table | None:
    """AUC (95% CI) of every model on every evaluation set, best first-page overview."""
    table = ctx.performance
    if table is None or verdict is None:
        return None
    splits = [s for s in ctx.splits if s != Split.TRAIN]  # apparent AUCs stay in the full table
    p_by_model = {c.model: c.p_holm for c in verdict.comparisons}
    header = ["Model", *[split_title(s) for s in splits], f"p vs {verdict.best} (Holm)"]
    order = table.loc[table["split"] == verdict.split].sort_values("auc", ascending=False)
    models = list(order["model"]) + [m for m in ctx.models if m not in set(order["model"])]
    rows, styles = [], []
    for model in models:
        cells: list[Cell | str] = [Cell(model, strong=model == verdict.best)]
        for split in splits:
            found = table.loc[(table["model"] == model) & (table["split"] == split)]
            if found.empty:
                cells.append("")
                continue
            r = found.iloc[0]
            cells.append(
                Cell(
                    num(r["auc"]),
                    ci(r["auc_ci_low"], r["auc_ci_high"]),
                    strong=model == verdict.best and split == verdict.split,
                )
            )
        cells.append("best" if model == verdict.best else p_text(p_by_model.get(model)))
        rows.append(cells)
        styles.append("best" if model == verdict.best else "")
    return Table(
        "Discrimination (AUC, 95% DeLong CI) of every model",
        header,
        rows,
        align="l" + "c" * len(splits) + "r",
        row_styles=styles,
        footnote=f"Models ordered by AUC on the {split_title(verdict.split).lower()} "
        "set; p: paired DeLong test against the best model, Holm-adjusted.",
    )
