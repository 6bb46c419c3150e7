"""Cohort characteristics (the study's Table 2): covariates by outcome per split and per site."""

from __future__ import annotations

import re

import pandas as pd

from radiopipe.contracts import SPLIT_ORDER, EvaluateLayout
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Cell, Paragraph, Section, Table
from radiopipe.report.figures import cohort_title
from radiopipe.report.formatting import pct
from radiopipe.report.sections.protocol import protocol_table

FOOTNOTE = (
    "Continuous variables: mean ± SD when both outcome groups pass a Shapiro–Wilk test "
    "(Welch t-test), otherwise median [IQR] (Mann–Whitney U). Categorical variables: n (%) "
    "within each outcome group (Pearson χ², or Fisher's exact test when an expected count is "
    "below 5). p compares the two outcome groups within each column group."
)
_UNITS = {"mm": "mm", "cm": "cm", "ml": "mL", "y": "years", "years": "years", "kg": "kg"}


def variable_label(name: str) -> str:
    """'fat_thickness_mm' -> 'Fat thickness (mm)'."""
    parts = name.split("_")
    unit = _UNITS.get(parts[-1].lower()) if len(parts) > 1 else None
    words = " ".join(parts[:-1] if unit else parts)
    words = re.sub(r"\s+", " ", words).strip()
    label = words[:1].upper() + words[1:]
    return f"{label} ({unit})" if unit else label


def cohort_long_table(ctx: ReportContext) -> pd.DataFrame | None:
    """evaluate/cohort_table.csv as the evaluate stage wrote it, or None."""
    return ctx.run.evaluate.get(EvaluateLayout.FILES["cohort_table"])


def build(ctx: ReportContext) -> Section:
    """Table 2 by split and by site, and the cohort's size."""
    section = Section("cohort", "Cohort")
    table = cohort_long_table(ctx)
    if table is None:
        section.note = ctx.run.notes.get("cohort") or (
            "no evaluate/cohort_table.csv: the evaluate stage writes the cohort table when it "
            "is given the manifest (radiopipe evaluate --manifest)"
        )
        return section
    counts = _counts(table, ctx)
    if counts:
        section.blocks.append(Paragraph(counts))
    for grouping, title in (("split", "split"), ("site", "site")):
        part = table.loc[table["grouping"] == grouping]
        if not part.empty:
            section.blocks.append(_grouped(part, ctx, f"Patient characteristics by {title}"))
    protocol = protocol_table(ctx)
    if protocol is not None:
        section.blocks.append(protocol)
    if ctx.run.problems is not None and len(ctx.run.problems):
        section.blocks.append(
            Paragraph(
                f"Input validation listed {len(ctx.run.problems)} problem(s) "
                "(validate/problems.csv).",
                "note",
            )
        )
    return section


def _counts(table: pd.DataFrame, ctx: ReportContext) -> str:
    n_rows = table.loc[(table["variable"] == "n")]
    every = n_rows.loc[n_rows["grouping"] == "all"]
    if every.empty:
        return ""
    row = every.iloc[0]
    total, events = int(row["overall"]), int(row[ctx.label_name(1)])
    parts = [f"{total} patients, {events} ({pct(events / total)}) {ctx.label_name(1)} outcome"]
    splits = n_rows.loc[n_rows["grouping"] == "split"].set_index("group")["overall"]
    if not splits.empty:
        order = [s for s in SPLIT_ORDER if s in splits.index]
        parts.append("; ".join(f"{cohort_title(s).lower()} {int(splits[s])}" for s in order))
    sites = n_rows.loc[n_rows["grouping"] == "site"]
    if not sites.empty:
        parts.append(f"{len(sites)} site(s)")
    return "; ".join(parts) + "."


def _grouped(part: pd.DataFrame, ctx: ReportContext, caption: str) -> Table:
    names = [ctx.label_name(0), ctx.label_name(1)]
    groups = list(dict.fromkeys(part["group"].astype(str)))
    if set(groups) <= set(SPLIT_ORDER):
        groups = [g for g in SPLIT_ORDER if g in groups]
    header = ["Characteristic"]
    spans = [("", 1)]
    for group in groups:
        n = part.loc[(part["group"] == group) & (part["variable"] == "n")]
        label = cohort_title(group) if group in SPLIT_ORDER else f"Site {group}"
        if not n.empty:
            label += f" (n = {n.iloc[0]['overall']})"
        spans.append((label, 3))
        header += [names[0].capitalize(), names[1].capitalize(), "p"]
    rows, styles = [], []
    variables = [v for v in dict.fromkeys(part["variable"]) if v != "n"]
    rows.append(["n", *[c for g in groups for c in _cells(part, g, "n", "", names)]])
    styles.append("")
    for variable in variables:
        levels = list(dict.fromkeys(part.loc[part["variable"] == variable, "level"].astype(str)))
        statistics = set(part.loc[part["variable"] == variable, "statistic"].astype(str))
        label = variable_label(variable)
        if len(statistics) == 1:  # the same summary in every column group: say which
            label += f", {statistics.pop()}"
        if levels == [""]:
            rows.append([label, *[c for g in groups for c in _cells(part, g, variable, "", names)]])
            styles.append("")
            continue
        rows.append([label, *[c for g in groups for c in _head(part, g, variable)]])
        styles.append("subhead")
        for level in [lv for lv in levels if lv != ""]:
            cells = [c for g in groups for c in _cells(part, g, variable, level, names)]
            rows.append([Cell(f"\u2003{level}"), *cells])
            styles.append("level")
    return Table(
        caption,
        header,
        rows,
        align="l" + "rrr" * len(groups),
        groups=spans,
        footnote=FOOTNOTE,
        row_styles=styles,
        wide=len(groups) > 2,
    )


def _row(part: pd.DataFrame, group: str, variable: str, level: str) -> pd.Series | None:
    found = part.loc[
        (part["group"] == group)
        & (part["variable"] == variable)
        & (part["level"].astype(str) == level)
    ]
    return None if found.empty else found.iloc[0]


def _cells(part: pd.DataFrame, group: str, variable: str, level: str, names: list[str]) -> list:
    row = _row(part, group, variable, level)
    if row is None:
        return ["", "", ""]
    p = str(row.get("p_text", "")) if level == "" else ""
    return [str(row[names[0]]), str(row[names[1]]), p]


def _head(part: pd.DataFrame, group: str, variable: str) -> list:
    row = _row(part, group, variable, "")
    return ["", "", "" if row is None else str(row.get("p_text", ""))]
