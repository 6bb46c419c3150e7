"""The issue's acceptance scenario at small scale: a clean cohort passes; breakage is listed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.conftest import run_radiopipe


def test_validate_cli_passes_then_lists_every_problem(cohort_dir: Path, cli) -> None:
    manifest = cohort_dir / "manifest.csv"
    ok = cli("validate", manifest)
    assert ok.exit_code == 0 and "no problems" in ok.output

    (cohort_dir / "images" / "A-001_t2w.nii.gz").write_bytes(b"\x00corrupt" * 40)
    (cohort_dir / "images" / "A-002_cet1w.nii.gz").unlink()
    table = pd.read_csv(manifest, dtype=str)
    table.loc[4, "patient_id"] = "B-003"
    table.to_csv(manifest, index=False)

    report = cohort_dir / "problems.csv"
    bad = cli("validate", manifest, "--report", report)
    assert bad.exit_code == 1
    problems = pd.read_csv(report)
    assert len(problems) == 3
    assert set(problems["patient_id"]) == {"A-001", "A-002", "B-003"}
    assert "3 problem(s)" in bad.output


def test_console_script_error_exit_code(tmp_path: Path) -> None:
    result = run_radiopipe("validate", tmp_path / "absent.csv")
    assert result.returncode == 2
    assert "manifest file does not exist" in result.stderr
    assert "Traceback" not in result.stderr
