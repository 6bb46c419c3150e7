"""Fixtures for the report tests: one realistic study run folder (built once per session) and
its full HTML + PDF report; copies of the run with parts removed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.report.runfactory import PARTS, build_run


@pytest.fixture(scope="session")
def study_run(tmp_path_factory) -> Path:
    """A complete study run folder (cohort, extract, robustness, train, evaluate, explain,
    segment, deep). Treat as read-only: tests that change it use ``run_without``."""
    return build_run(tmp_path_factory.mktemp("study") / "demo")


@pytest.fixture(scope="session")
def full_report(study_run, tmp_path_factory):
    """The HTML and PDF report of the complete run (page images at low resolution)."""
    from radiopipe.config.report import ReportConfig
    from radiopipe.report import build_report

    out = tmp_path_factory.mktemp("report")
    return build_report(study_run, out, ReportConfig(page_dpi=30))


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
