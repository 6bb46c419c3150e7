"""Segmentation quality: Dice and HD95 of the automatic masks per sequence, QC flags, examples."""

from __future__ import annotations

import pandas as pd

from radiopipe.contracts import TEST_SPLITS, Split
from radiopipe.report import figures
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Figure, Paragraph, Section, Table
from radiopipe.report.formatting import num


def _median_iqr(values: pd.Series, digits: int) -> str:
    values = values.dropna()
    if values.empty:
        return "–"
    q1, med, q3 = values.quantile([0.25, 0.5, 0.75])
    return f"{num(med, digits)} [{num(q1, digits)}–{num(q3, digits)}]"


def _mean_sd(values: pd.Series, digits: int) -> str:
    values = values.dropna()
    if values.empty:
        return "–"
    return f"{num(values.mean(), digits)} ± {num(values.std(ddof=1), digits)}"


def build(ctx: ReportContext) -> Section:
    """Summary table per sequence and split, box plots, QC flags and overlay examples."""
    section = Section("segmentation", "Segmentation quality")
    seg = ctx.run.segmentation
    metrics = seg.get("metrics")
    if metrics is None:
        section.note = ctx.run.notes.get("segmentation", "no segmentation evaluation")
        return section
    labels = {s: ctx.sequence_label(s) for s in set(metrics["sequence"])}
    body = []
    groups = [(s, "all", g) for s, g in metrics.groupby("sequence")]
    if "split" in metrics:
        groups += [(s, sp, g) for (s, sp), g in metrics.groupby(["sequence", "split"]) if sp]
    order = {s: i for i, s in enumerate(ctx.run.sequences)}
    splits = {s: i for i, s in enumerate(("all", Split.TRAIN, *TEST_SPLITS))}
    previous = None
    for sequence, split, part in sorted(
        groups, key=lambda t: (order.get(t[0], 99), t[0], splits.get(t[1], 9), t[1])
    ):
        scored = part.dropna(subset=["dice"])
        shown = labels[sequence] if sequence != previous else ""
        previous = sequence
        body.append(
            [
                shown,
                figures.cohort_title(split) if split != "all" else "All",
                str(len(scored)),
                _median_iqr(scored["dice"], 3),
                _mean_sd(scored["dice"], 3),
                _median_iqr(scored.get("hd95_mm", pd.Series(dtype=float)), 1),
            ]
        )
    section.blocks.append(
        Table(
            "Automatic against reference segmentation",
            [
                "Sequence",
                "Split",
                "n",
                "Dice, median [IQR]",
                "Dice, mean ± SD",
                "HD95 (mm), median [IQR]",
            ],
            body,
            align="llrrrr",
        )
    )
    section.blocks.append(
        Figure(
            ctx.figure(figures.segmentation_figure(metrics, labels)),
            "Dice and 95th-percentile Hausdorff distance per case.",
            width="85%",
        )
    )
    qc = seg.get("qc")
    if qc is not None and "flags" in qc:
        flagged = qc.loc[qc["flags"].astype(str).str.strip() != ""]
        kinds = flagged["flags"].astype(str).str.split(";").explode().value_counts()
        text = f"Quality control flagged {len(flagged)} of {len(qc)} automatic masks"
        text += (": " + ", ".join(f"{k} ({v})" for k, v in kinds.items())) if len(kinds) else ""
        section.blocks.append(Paragraph(text + "."))
    for path in seg.get("overlays", [])[: ctx.config.max_overlays]:
        sequence = path.stem.removeprefix("overlays_")
        section.blocks.append(
            Figure(
                figures.file_uri(path),
                f"{ctx.sequence_label(sequence)}: automatic (colour) and "
                "reference masks, from the worst to the best Dice.",
            )
        )
    return section
