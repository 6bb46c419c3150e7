"""The validation report: read a study run folder, write one self-contained HTML file and a
PDF made from the same template (WeasyPrint), with PNG renders of the PDF pages."""

from radiopipe.report.build import ReportResult, build_report
from radiopipe.report.contents import RunContents, load_run

__all__ = ["ReportResult", "RunContents", "build_report", "load_run"]
