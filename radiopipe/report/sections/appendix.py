"""The methods text, the TRIPOD+AI / CLEAR checklist, and the provenance of the run."""

from __future__ import annotations

from markupsafe import Markup

from radiopipe.report.checklist import SYMBOLS, checklist
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Cell, Paragraph, Section, Table
from radiopipe.report.methods import methods


def methods_section(ctx: ReportContext) -> Section:
    """Methods paragraphs generated from the run's settings."""
    section = Section("methods", "Methods")
    for heading, text in methods(ctx):
        section.blocks.append(Paragraph(Markup("<strong>{}.</strong> {}").format(heading, text)))
    if not section.blocks:
        section.note = "the run holds no settings to describe"
    return section


def checklist_section(ctx: ReportContext) -> Section:
    """Which reporting-guideline items the run covers, judged from its contents."""
    section = Section("checklist", "Reporting checklist (TRIPOD+AI, CLEAR)")
    rows = checklist(ctx)
    counts = {s: sum(r.status == s for r in rows) for s in SYMBOLS}
    section.blocks.append(
        Paragraph(
            f"Judged from the files of this run: {counts['covered']} items covered, "
            f"{counts['partial']} partly, {counts['missing']} missing, {counts['authors']} to be "
            "reported by the authors. ✓ covered · ◐ partly · ✗ missing · ✎ authors.",
            "small",
        )
    )
    body, styles = [], []
    for guideline in dict.fromkeys(r.guideline for r in rows):
        body.append([guideline, "", "", ""])
        styles.append("subhead")
        for r in (r for r in rows if r.guideline == guideline):
            body.append([r.number, r.topic, Cell(f"{SYMBOLS[r.status]} {r.status}"), r.where])
            styles.append(f"status-{r.status}")
    section.blocks.append(
        Table(
            "Reporting items",
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
