"""The first-page summary: the pre-specified reference model, its AUC and CI, and its paired
DeLong comparisons with the other models (Holm over the declared family), read from
evaluate/delong.csv so that page 1 and the performance section show the same p-values.

Nothing here is selected on a test set. A ranking by test AUC ("which model was best") is
exploratory: it appears only in an appendix labelled so, and only when the report settings ask
for it (``exploratory_best``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from markupsafe import Markup

from radiopipe.contracts import OOF_SPLITS, PRIMARY_SPLITS, TEST_SPLITS, EvaluateLayout, Split
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Callout, Cell, Paragraph, Section, Table
from radiopipe.report.figures import split_title
from radiopipe.report.formatting import ci, num, p_text, signed

log = logging.getLogger(__name__)

EXPLORATORY_TITLE = "Appendix: exploratory, selected on the test set"


@dataclass
class Comparison:
    """The reference model against one other model on the primary split."""

    model: str
    difference: float  # AUC(reference) - AUC(other)
    ci_low: float
    ci_high: float
    p_holm: float


@dataclass
class Verdict:
    """The pre-specified reference model on the primary split and its comparisons."""

    split: str
    reference: str
    row: pd.Series
    comparisons: list[Comparison]
    others: dict[str, pd.Series]  # the reference model's rows on the other splits
    family: str = ""  # the declared Holm family of the split (delong.csv)


def primary_model(ctx: ReportContext) -> Verdict | None:
    """The pre-specified reference on the first primary split present (computed once)."""
    if "verdict" not in ctx.memo:
        ctx.memo["verdict"] = _primary_model(ctx)
    return ctx.memo["verdict"]  # type: ignore[return-value]


def primary_split(ctx: ReportContext, model: str) -> str | None:
    """The first split of the fixed order (external, internal test, CV, OOF) with ``model``.

    Never the apparent (training) split; the order is fixed in advance, not chosen by result.
    """
    table = ctx.performance
    present = set(table.loc[table["model"] == model, "split"].astype(str))
    return next((str(s) for s in PRIMARY_SPLITS if s in present), None)


def _primary_model(ctx: ReportContext) -> Verdict | None:
    table = ctx.performance
    if table is None or table.empty:
        return None
    reference = ctx.reference
    split = primary_split(ctx, reference)
    if split is None:
        ctx.warn(
            f"the pre-specified reference model {reference} has no held-out predictions: "
            "the first page cannot state its performance"
        )
        return None
    row = table.loc[(table["model"] == reference) & (table["split"] == split)].iloc[0]
    others = {
        str(r["split"]): r
        for _, r in table.loc[table["model"] == reference].iterrows()
        if r["split"] not in (split, Split.TRAIN)
    }
    comparisons, family = _comparisons(ctx, split, reference)
    return Verdict(split, reference, row, comparisons, others, family)


def _comparisons(ctx: ReportContext, split: str, reference: str) -> tuple[list[Comparison], str]:
    """Reference vs each other model, the paired rows of evaluate/delong.csv (as section 4)."""
    delong = ctx.run.evaluate.get(EvaluateLayout.FILES["delong"])
    if delong is None:
        ctx.warn("evaluate/delong.csv is missing: the first page shows no comparisons")
        return [], ""
    rows = delong.loc[
        (delong["comparison"] == "paired")
        & (delong["split"].astype(str) == split)
        & (delong["reference"].astype(str) == reference)
    ]
    family = str(rows["family"].iloc[0]) if "family" in rows and not rows.empty else ""
    return [
        Comparison(str(r.model), -r.difference, -r.ci_high, -r.ci_low, r.p_holm)
        for r in rows.itertuples()
    ], family


def summary_callout(ctx: ReportContext) -> Callout | None:
    """The key findings box of the first page."""
    verdict = primary_model(ctx)
    if verdict is None:
        return None
    row, alpha = verdict.row, ctx.config.alpha
    lines: list[str | Markup] = []
    n = f"n = {int(row['n'])}, {int(row['n_cases'])} {ctx.label_name(1)}"
    lines.append(
        Markup(
            "The pre-specified primary model, <strong>{}</strong> (fixed in the study design "
            "before any model was fitted), reached on the {} set ({}) an AUC of {} (95% CI {})."
        ).format(
            ctx.model_label(verdict.reference),
            split_title(verdict.split).lower(),
            n,
            num(row["auc"]),
            ci(row["auc_ci_low"], row["auc_ci_high"]),
        )
    )
    for split in (*TEST_SPLITS, *OOF_SPLITS):
        other = verdict.others.get(split)
        if other is not None and split != verdict.split:
            interval = ci(other["auc_ci_low"], other["auc_ci_high"]) or "not estimable"
            lines.append(
                f"On the {split_title(split).lower()} set its AUC was {num(other['auc'])} "
                f"(95% CI {interval})."
            )
    lines += _significance_lines(verdict, alpha, ctx.model_label)
    threshold = row.get("threshold")
    if pd.notna(threshold):
        lines.append(
            f"At its frozen threshold ({num(threshold, 2)}, from {row['threshold_source']}): "
            f"sensitivity {num(row['sensitivity'], 2)}, specificity {num(row['specificity'], 2)}, "
            f"accuracy {num(row['accuracy'], 2)}."
        )
    return Callout("Key findings", lines)


def _significance_lines(
    verdict: Verdict, alpha: float, label: Callable[[str], str]
) -> list[str | Markup]:
    if not verdict.comparisons:
        return ["No paired comparison with other models is available for this split."]
    higher = [c for c in verdict.comparisons if c.p_holm < alpha and c.difference > 0]
    lower = [c for c in verdict.comparisons if c.p_holm < alpha and c.difference < 0]
    similar = [c for c in verdict.comparisons if not c.p_holm < alpha]

    def listing(items: list[Comparison]) -> Markup:
        parts = [
            Markup("{} (ΔAUC {}, p = {})").format(
                label(c.model), signed(c.difference), p_text(c.p_holm)
            )
            for c in items
        ]
        return Markup(", ").join(parts)

    lines: list[str | Markup] = [
        Markup(
            "Paired DeLong tests against {}, Holm-adjusted over the declared family "
            "(the reference against every other model run), α = {}:"
        ).format(label(verdict.reference), alpha)
    ]
    if higher:
        lines.append(Markup("Its AUC was significantly higher than that of {}.").format(
            listing(higher)))  # fmt: skip
    if lower:
        lines.append(Markup("Its AUC was significantly lower than that of {}.").format(
            listing(lower)))  # fmt: skip
    if similar:
        lines.append(
            Markup("It was <strong>not significantly different</strong> from {}.").format(
                listing(similar)
            )
        )
    if not higher and not lower:
        lines.append(
            "No difference between the reference model and the others reached significance: "
            "the data do not show that one model discriminates better than the others."
        )
    return lines


def model_order(ctx: ReportContext) -> tuple[list[str], str]:
    """Models by training out-of-fold AUC (highest first), else in the configured order.

    Never by a test AUC. Returns the order and how it was made (for the footnote).
    """
    table = ctx.performance
    for split in OOF_SPLITS:
        rows = table.loc[table["split"] == split].dropna(subset=["auc"])
        if not rows.empty:
            ranked = rows.sort_values(["auc", "model"], ascending=[False, True])
            models = list(dict.fromkeys(ranked["model"].astype(str)))
            models += [m for m in ctx.models if m not in models]
            return models, f"ordered by {split_title(split).lower()} AUC (training patients)"
    return list(ctx.models), "in the configured model order"


def headline_table(ctx: ReportContext, verdict: Verdict | None) -> Table | None:
    """AUC (95% CI) of every model on every held-out set; the reference first-page overview."""
    table = ctx.performance
    if table is None or verdict is None:
        return None
    splits = list(ctx.splits)  # never the apparent split: appendix only
    p_by_model = {c.model: c.p_holm for c in verdict.comparisons}
    reference = verdict.reference
    header = [
        "Model",
        *[split_title(s) for s in splits],
        f"p vs {ctx.model_label(reference)} (Holm)",
    ]
    models, how = model_order(ctx)
    rows, styles = [], []
    for model in models:
        cells: list[Cell | str] = [Cell(ctx.model_label(model), strong=model == reference)]
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
                    strong=model == reference and split == verdict.split,
                )
            )
        cells.append("reference" if model == reference else p_text(p_by_model.get(model)))
        rows.append(cells)
        styles.append("best" if model == reference else "")
    return Table(
        "Discrimination (AUC, 95% DeLong CI) of every model",
        header,
        rows,
        align="l" + "c" * len(splits) + "r",
        row_styles=styles,
        footnote=f"Models {how}, never by a test AUC. Bold: the pre-specified reference "
        f"({ctx.model_label(reference)}). p: paired DeLong test against it on the "
        f"{split_title(verdict.split).lower()} set, Holm-adjusted over the declared family "
        "(as in the performance section).",
    )


def exploratory_section(ctx: ReportContext) -> Section:
    """Best-on-test rankings (evaluate/best_comparisons.csv), only when asked for, labelled
    exploratory: the best model is selected on the set it is then tested on."""
    section = Section("exploratory", EXPLORATORY_TITLE)
    if not ctx.config.exploratory_best:
        section.note = "not requested (report setting exploratory_best)"
        return section
    best = ctx.run.evaluate.get(EvaluateLayout.FILES["best_comparisons"])
    if best is None or best.empty:
        section.note = "no evaluate/best_comparisons.csv"
        return section
    section.blocks.append(
        Paragraph(
            "Exploratory: selected on the test set. For each evaluation set the model with the "
            "highest AUC on that set is compared with every other model on the same set. "
            "Because the model is selected on the data it is tested on, these p-values are "
            "not valid inference; the primary analysis is the pre-specified reference "
            f"({ctx.reference}) on the first page and in the performance section.",
            "small",
        )
    )
    body = [
        [
            split_title(str(r.split)), ctx.model_label(str(r.reference)),
            ctx.model_label(str(r.model)), num(r.auc_reference),
            num(r.auc_model), signed(-r.difference), p_text(r.p_holm),
        ]
        for r in best.itertuples()
        if str(r.split) != Split.TRAIN
    ]  # fmt: skip
    section.blocks.append(
        Table(
            "Exploratory: selected on the test set (best model of each set vs the others)",
            ["Set", "Best on this set", "Other model", "AUC best", "AUC other", "ΔAUC", "p (Holm)"],
            body,
            align="lllrrrr",
        )
    )
    return section


def sensitivity_table(ctx: ReportContext) -> Table | None:
    """AUC of each model per test set under estimate / passthrough / none (harmonisation
    sensitivity, evaluate/harmonisation_sensitivity.csv), or None when absent."""
    table = ctx.run.evaluate.get(EvaluateLayout.FILES["harmonisation_sensitivity"])
    if table is None or table.empty:
        return None
    variants = [v for v in ("estimate", "passthrough", "none") if v in set(table["harmonisation"])]
    titles = {
        "estimate": "As trained (unseen centres estimated)",
        "passthrough": "Unseen centres unadjusted",
        "none": "Refitted without ComBat",
    }
    body = []
    for (split, model), rows in table.groupby(["split", "model"], sort=False):
        found = rows.set_index("harmonisation")
        cells: list[Cell | str] = [
            split_title(str(split)),
            Cell(ctx.model_label(str(model)), strong=model == ctx.reference),
        ]
        for v in variants:
            if v in found.index:
                r = found.loc[v]
                cells.append(Cell(num(r["auc"]), ci(r["auc_ci_low"], r["auc_ci_high"])))
            else:
                cells.append("")
        body.append(cells)
    return Table(
        "Harmonisation sensitivity: AUC (95% DeLong CI) by how sites were harmonised",
        ["Set", "Model", *[titles[v] for v in variants]],
        body,
        align="ll" + "c" * len(variants),
        footnote="As trained, a centre without training patients has its ComBat site effect "
        "estimated from its own unlabelled patients (transductive, label-free).",
    )
