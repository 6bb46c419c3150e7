"""The methods text, the TRIPOD+AI / CLEAR / METRICS checklist, and the provenance of the run."""

from __future__ import annotations

from markupsafe import Markup

from radiopipe.contracts import Split
from radiopipe.report.checklist import (
    AUTHORS,
    COVERED,
    MISSING,
    NOT_APPLICABLE,
    PARTIAL,
    STATUSES,
    SYMBOLS,
    checklist,
)
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Cell, Paragraph, Section, Table
from radiopipe.report.formatting import ci, num
from radiopipe.report.methods import methods


def methods_section(ctx: ReportContext) -> Section:
    """Methods paragraphs generated from the run's settings."""
    section = Section("methods", "Methods")
    for heading, text in methods(ctx):
        cited = ctx.citations.cite(text)
        section.blocks.append(Paragraph(Markup("<strong>{}.</strong> {}").format(heading, cited)))
    if not section.blocks:
        section.note = "the run holds no settings to describe"
    return section


CHECKLIST_TITLE = (
    "Reporting checklist (TRIPOD+AI, CLEAR, METRICS): subset, judged automatically from the run"
)


def checklist_section(ctx: ReportContext) -> Section:
    """Every item of TRIPOD+AI, CLEAR and METRICS, each marked from the run's contents."""
    section = Section("checklist", CHECKLIST_TITLE)
    rows = checklist(ctx)
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    judged = counts[COVERED] + counts[PARTIAL] + counts[MISSING]
    section.blocks.append(
        Paragraph(
            ctx.citations.cite(
                f"Not a completed checklist. Of the {len(rows)} items of TRIPOD+AI, CLEAR and "
                "METRICS together."
            )
            + f" {judged} could be "
            f"judged from the files of this run: {counts[COVERED]} covered, {counts[PARTIAL]} "
            f"partly, {counts[MISSING]} missing. {counts[AUTHORS]} items concern information a "
            f"run cannot hold and are for the authors; {counts[NOT_APPLICABLE]} do not apply to "
            "this run's design. Complete the official checklists for submission. "
            + " · ".join(f"{SYMBOLS[s]} {s}" for s in STATUSES)
            + ".",
            "small",
        )
    )
    for guideline in dict.fromkeys(r.guideline for r in rows):
        body, styles = [], []
        for r in (r for r in rows if r.guideline == guideline):
            body.append([r.number, r.topic, Cell(f"{SYMBOLS[r.status]} {r.status}"), r.where])
            styles.append(f"status-{r.status.replace(' ', '-')}")
        section.blocks.append(
            Table(
                f"{guideline} items (automatic judgement from the run)",
                ["Item", "Topic", "Status", "Evidence in this run"],
                body,
                align="llll",
                row_styles=styles,
                wide=True,
            )
        )
    return section


def provenance_section(ctx: ReportContext) -> Section:
    """Stage records: command, start time, commit, seed, config hash."""
    section = Section("provenance", "Provenance", page_break=False)
    body = []
    for stage, record in sorted(ctx.run.provenance.items()):
        body.append(
            [
                stage,
                str(record.get("command", "")),
                str(record.get("started", "")),
                str(record.get("git_commit") or "–"),
                str(record.get("seed", "–")),
                str(record.get("config_sha256") or "–")[:12],
            ]
        )
    if body:
        section.blocks.append(
            Table(
                "Stage records (provenance.json)",
                ["Stage", "Command", "Started (UTC)", "Commit", "Seed", "Settings hash"],
                body,
                align="llllrl",
                wide=True,
            )
        )
    notes = [f"{part}: {text}" for part, text in sorted(ctx.run.notes.items())]
    if notes:
        section.blocks.append(Paragraph("Not in this run — " + "; ".join(notes) + ".", "note"))
    if not section.blocks:
        section.note = "no provenance records"
    return section


def apparent_section(ctx: ReportContext) -> Section:
    """Training resubstitution performance, kept out of the main tables and figures."""
    section = Section("apparent", "Appendix: apparent performance (apparent, optimistic)")
    perf = ctx.performance
    rows = perf.loc[perf["split"] == Split.TRAIN] if perf is not None else None
    if rows is None or rows.empty:
        section.note = "no apparent (training resubstitution) performance in this run"
        return section
    order = {m: i for i, m in enumerate(ctx.models)}
    rows = rows.assign(_order=rows["model"].map(order)).sort_values("_order")
    body = [
        [
            ctx.model_label(r.model),
            f"{int(r.n)} ({int(r.n_cases)})",
            Cell(num(r.auc), ci(r.auc_ci_low, r.auc_ci_high)),
            num(r.sensitivity, 3),
            num(r.specificity, 3),
        ]
        for r in rows.itertuples()
    ]
    section.blocks.append(
        Table(
            "Apparent performance on the training patients (apparent, optimistic)",
            ["Model", "n (events)", "AUC (95% CI)", "Sensitivity", "Specificity"],
            body,
            align="lcccc",
            footnote="The final models predicting the patients they were fitted on (training "
            "resubstitution). These numbers are optimistic by construction and are not evidence "
            "of performance; they are shown only to judge overfitting against the out-of-fold "
            "and test-set results in the main tables.",
        )
    )
    return section


def references_section(ctx: ReportContext) -> Section:
    """The works cited by the report's text, numbered in order of first citation."""
    section = Section("references", "References", page_break=False)
    for number, text in ctx.citations.listing():
        section.blocks.append(Paragraph(f"{number}. {text}", "reference"))
    if not section.blocks:
        section.note = "no method cited"
    return section
