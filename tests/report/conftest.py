"""Fixtures for the report tests: one realistic study run folder and its full HTML + PDF
report, built once per test session (shared by the xdist workers through a file lock); copies
of the run with parts removed."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.report.runfactory import PARTS, build_run

DONE = ".built"


def shared_folder(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """``make(folder)`` once per session: under xdist the workers share one build (file lock)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        folder = tmp_path_factory.mktemp(name, numbered=False)
        make(folder)
        return folder
    from filelock import FileLock

    folder = tmp_path_factory.getbasetemp().parent / name  # one per session, every worker
    with FileLock(f"{folder}.lock"):
        if not (folder / DONE).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            make(folder)
            (folder / DONE).touch()
    return folder


@dataclass
class BuiltReport:
    """What the full-report tests read: the files, page images, notes and shown sections."""

    out: Path
    files: dict[str, Path]
    pages: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def study_run(tmp_path_factory) -> Path:
    """A complete study run folder (cohort, extract, robustness, train, evaluate, explain,
    segment, deep). Treat as read-only: tests that change it use ``run_without``."""
    return shared_folder(tmp_path_factory, "study", lambda f: build_run(f / "demo")) / "demo"


@pytest.fixture(scope="session")
def full_report(study_run, tmp_path_factory) -> BuiltReport:
    """The HTML and PDF report of the complete run (page images at low resolution)."""
    from radiopipe.config.report import ReportConfig
    from radiopipe.report import build_report

    out = shared_folder(
        tmp_path_factory,
        "full_report",
        lambda f: build_report(study_run, f / "report", ReportConfig(page_dpi=30)),
    )
    out = out / "report"
    summary = json.loads((out / "report.json").read_text(encoding="utf-8"))
    files = {"html": out / "report.html", "pdf": out / "report.pdf", "summary": out / "report.json"}
    pages = [out / "pages" / name for name in summary["pages"]]
    return BuiltReport(out, files, pages, summary["notes"], summary["shown"])


@pytest.fixture
def run_without(study_run, tmp_path):
    """A copy of the study run without the named parts (e.g. ``run_without("segment")``)."""

    made: list[Path] = []

    def make(*parts: str) -> Path:
        unknown = set(parts) - set(PARTS)
        assert not unknown, unknown
        copy = tmp_path / f"run{len(made)}"
        made.append(copy)
        shutil.copytree(study_run, copy, ignore=shutil.ignore_patterns("report"))
        for part in parts:
            shutil.rmtree(copy / part)
        return copy

    return make
