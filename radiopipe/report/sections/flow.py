"""Patient flow (STARD/CONSORT style) from the manifest, validation problems, failures and QC."""

from __future__ import annotations

from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Figure, Section
from radiopipe.report.flow import flow_figure, patient_flow


def build(ctx: ReportContext) -> Section:
    """The flow diagram of the run's patients."""
    section = Section("flow", "Patient flow")
    flow = patient_flow(ctx)
    if flow is None:
        section.note = "no cohort manifest"
        return section
    caption = ctx.citations.cite(
        "Flow of patients through the analysis, in the style of STARD and CONSORT diagrams: "
        "patients of the cohort manifest, those left out (input validation problems, failed "
        "preprocessing), those analysed with the reasons some were flagged (failed feature "
        "extraction: features imputed; automatic-segmentation QC flags), and the patients and "
        f"outcomes ({ctx.label_name(1)} / {ctx.label_name(0)}) of each set."
    )
    section.blocks.append(Figure(ctx.figure(flow_figure(flow, ctx.label_names)), caption))
    return section
