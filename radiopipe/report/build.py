"""``radiopipe report``: read a study run folder, build every section that has inputs, write
``report/report.html`` and ``report/report.pdf`` (same template) and PNG page renders."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from radiopipe import __version__
from radiopipe.atomic import write_json, write_text
from radiopipe.config.report import ReportConfig
from radiopipe.contracts import ReportLayout, StageName
from radiopipe.progress import progress_bar
from radiopipe.report import render
from radiopipe.report.contents import load_run
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Section
from radiopipe.report.figure_files import FigureFiles
from radiopipe.report.numbering import number_blocks
from radiopipe.report.sections import (
    appendix,
    clinical,
    cohort,
    curves,
    deep,
    features,
    flow,
    harmonisation,
    known_answer,
    performance,
    segmentation,
    shap,
)
from radiopipe.report.summary import (
    EXPLORATORY_TITLE,
    exploratory_section,
    headline_table,
    primary_model,
    summary_callout,
)
from radiopipe.runs import RunFolder

log = logging.getLogger(__name__)

HTML_FILE, PDF_FILE, PAGES_DIR, SUMMARY_FILE = (
    ReportLayout.FILES[k] for k in ("html", "pdf", "pages", "summary")
)
FIGURES_DIR = "figures"

SECTIONS: tuple[tuple[str, str, Callable[[ReportContext], Section]], ...] = (
    ("flow", "Patient flow", flow.build),
    ("cohort", "Cohort", cohort.build),
    ("segmentation", "Segmentation quality", segmentation.build),
    ("features", "Radiomic features and selection", features.build),
    ("harmonisation", "Harmonisation across sites", harmonisation.build),
    ("performance", "Model performance", performance.build),
    ("roc", "ROC curves", curves.roc),
    ("calibration", "Calibration", curves.calibration),
    ("decision", "Decision curves", curves.decision),
    ("clinical", clinical.TITLE, clinical.build),
    ("known_answer", "Known answer (synthetic cohort)", known_answer.build),
    ("shap", "Model explanations (SHAP)", shap.build),
    ("deep", "Deep-learning models: explanation overlays", deep.build),
    ("exploratory", EXPLORATORY_TITLE, exploratory_section),
    ("methods", "Methods", appendix.methods_section),
    ("apparent", "Appendix: apparent performance", appendix.apparent_section),
    ("checklist", appendix.CHECKLIST_TITLE, appendix.checklist_section),
    ("references", "References", appendix.references_section),  # last: cites come before
    ("provenance", "Provenance", appendix.provenance_section),
)


@dataclass
class ReportResult:
    """What was written, which sections were shown, and what was skipped and why."""

    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)
    pages: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def shown(self) -> list[str]:
        """Ids of the sections in the report."""
        return [s.id for s in self.sections if s.present]


@contextlib.contextmanager
def _many_open_figures() -> Iterator[None]:
    """Figures stay open until numbered: no 'more than 20 figures' warning."""
    import matplotlib.pyplot as plt

    with plt.rc_context({"figure.max_open_warning": 0}):
        yield


def build_sections(ctx: ReportContext) -> list[Section]:
    """Every section; one that fails is replaced by a note naming the problem."""
    sections = []
    wanted = [s for s in SECTIONS if s[0] != "exploratory" or ctx.config.exploratory_best]
    with progress_bar(transient=True) as bar:
        task = bar.add_task("report", total=len(wanted), rate="", status="")
        for key, title, builder in wanted:
            bar.update(task, status=key)
            try:
                section = builder(ctx)
            except Exception as err:  # one broken part must not cost the whole report
                log.exception("report section %s failed", key)
                section = Section(key, title, note=f"could not be built: {err}")
                ctx.warn(f"Section '{title}' could not be built: {err}")
            sections.append(section)
            bar.advance(task)
    return sections


def report_context(ctx: ReportContext, sections: list[Section]) -> dict:
    """Everything the template needs."""
    provenance = ctx.run.provenance.get("run") or ctx.run.provenance.get(StageName.TRAIN) or {}
    card = ctx.run.train.get("card", {})
    verdict = primary_model(ctx)
    return {
        "title": ctx.config.title,
        "subtitle": ctx.config.subtitle,
        "meta": {
            "run": ctx.run.name,
            "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "version": __version__,
            "commit": (provenance.get("git_commit") or "")[:12],
            "design": str(card.get("design", "")).replace("_", " "),
        },
        "callout": summary_callout(ctx),
        "headline": headline_table(ctx, verdict),
        "sections": sections,
        "warnings": ctx.warnings,
    }


def build_report(
    run: str | Path, out: str | Path | None = None, config: ReportConfig | None = None
) -> ReportResult:
    """Write the report of a study run folder into ``out`` (default ``<run>/report``)."""
    config = config or ReportConfig()
    contents = load_run(run)
    folder = RunFolder.at(out if out is not None else contents.layout.report.folder)
    handler = folder.attach_log()
    try:
        folder.record(
            "radiopipe report",
            config=config,
            seed=config.seed,
            extra={"run": str(contents.root.resolve())},
        )
        ctx = ReportContext(contents, config)
        if config.figure_files:
            ctx.figure_files = FigureFiles(
                folder.path(FIGURES_DIR), tuple(config.figure_files), config.figure_dpi
            )
            ctx.figure_files.start()
        with _many_open_figures():
            try:
                sections = build_sections(ctx)
                counts = number_blocks(sections, config.supplement, ctx.figure_files)
            finally:
                index = ctx.figure_files.finish() if ctx.figure_files is not None else None
        figure_files = [f"{FIGURES_DIR}/{row['file']}" for row in ctx.figure_files.index] if (
            ctx.figure_files is not None
        ) else []  # fmt: skip
        html = render.render_html(report_context(ctx, sections))
        result = ReportResult(folder.root, sections=sections)
        if index is not None:
            result.files["figures"] = index
        if "html" in config.formats:
            result.files["html"] = write_text(folder.path(HTML_FILE), html)
        pdf_skipped = ""
        if "pdf" in config.formats:
            try:
                result.files["pdf"] = render.write_pdf(html, folder.path(PDF_FILE))
            except render.PdfUnavailable as err:
                if "html" not in config.formats:
                    raise
                pdf_skipped = f"PDF skipped: {err}"
                log.warning(pdf_skipped)
                result.notes.append(pdf_skipped)
            if config.pages_png and "pdf" in result.files:
                result.pages, why = render.render_pages(
                    result.files["pdf"], folder.path(PAGES_DIR), config.page_dpi
                )
                if why:
                    log.warning(why)
                    result.notes.append(why)
        result.notes += ctx.warnings
        result.files["summary"] = write_json(
            folder.path(SUMMARY_FILE),
            {
                "shown": result.shown,
                "skipped": {s.id: s.note for s in sections if not s.present},
                "pages": [p.name for p in result.pages],
                "pdf_skipped": pdf_skipped or None,
                "numbered": counts,
                "figure_files": figure_files,
                "references": len(ctx.citations.order),
                "notes": result.notes,
            },
        )
        return result
    finally:
        logging.getLogger("radiopipe").removeHandler(handler)
        handler.close()
