"""Imaging protocol table per site from the manifest's acquisition metadata columns."""

from __future__ import annotations

import pandas as pd
import pytest

from radiopipe.config.report import ReportConfig
from radiopipe.report.checklist import checklist
from radiopipe.report.contents import load_run
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Table
from radiopipe.report.sections import cohort
from radiopipe.report.sections.protocol import protocol_frame

pytestmark = pytest.mark.xdist_group("report_run")


def test_protocol_frame_lists_values_per_site() -> None:
    manifest = pd.DataFrame(
        {
            "site": ["A", "A", "A", "B"],
            "t2w__manufacturer": ["GE", "GE", "GE", "SIEMENS"],
            "t2w__field_strength_t": ["3", "3", "1.5", "1.5"],
            "t2w__tr_ms": ["4000", "4000", "", "3500"],
        }
    )
    frame = protocol_frame(manifest).set_index("site")
    assert frame.loc["A", "manufacturer"] == "GE"
    assert frame.loc["A", "field_strength_t"] == "3 (n = 2); 1.5 (n = 1)"
    assert frame.loc["A", "tr_ms"] == "4000 (n = 2); not recorded (n = 1)"
    assert frame.loc["B", "patients"] == 1 and frame.loc["B", "model"] == ""
    assert protocol_frame(manifest.drop(columns="t2w__manufacturer")) is None


def test_checklist_and_cohort_section_use_the_metadata(run_without) -> None:
    run = run_without()
    before = {r.topic: r.status for r in checklist(ReportContext(load_run(run), ReportConfig()))}
    assert before["Imaging protocol (scanners, sequences)"] == "authors"
    path = run / "cohort" / "manifest.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table["t2w__manufacturer"] = "GE MEDICAL SYSTEMS"
    table["t2w__model"] = table["site"].map({"A": "Signa HDxt"}).fillna("SIGNA Voyager")
    table["t2w__field_strength_t"] = table["site"].map({"A": "3"}).fillna("1.5")
    table.to_csv(path, index=False)
    ctx = ReportContext(load_run(run), ReportConfig())
    after = {r.topic: r.status for r in checklist(ctx)}
    assert after["Imaging protocol (scanners, sequences)"] == "covered"
    tables = [b for b in cohort.build(ctx).blocks if isinstance(b, Table)]
    protocol = [t for t in tables if t.caption.startswith("Imaging protocol")]
    assert len(protocol) == 1
    assert {row[3] for row in protocol[0].rows} == {"GE MEDICAL SYSTEMS"}
    # metadata columns are not covariates of the cohort table
    assert "t2w__model" not in ctx.run.covariates
