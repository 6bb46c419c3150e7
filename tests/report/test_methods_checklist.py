"""The methods text follows the run's resolved settings; the checklist follows its contents."""

from __future__ import annotations

import pytest
import yaml

from radiopipe.config.report import ReportConfig
from radiopipe.report.checklist import checklist
from radiopipe.report.contents import load_run
from radiopipe.report.context import ReportContext
from radiopipe.report.methods import methods

# the tests of this module share a session fixture: keep them on one xdist worker
pytestmark = pytest.mark.xdist_group("report_run")


def methods_text(run) -> str:
    ctx = ReportContext(load_run(run), ReportConfig())
    return " ".join(text for _, text in methods(ctx))


def edit_yaml(path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def test_methods_are_written_from_the_resolved_settings(run_without) -> None:
    run = run_without("segment", "deep")
    text = methods_text(run)
    assert "150 patients from 2 site(s)" in text
    assert "1 × 5-fold stratified cross-validation" in text
    assert "|Pearson r| > 0.8" in text and "SMOTE oversampling (k = 5)" in text
    assert "ComBat harmonisation across sites preserving age" in text
    assert "200 resamples, seed 3" in text and "Holm" in text
    assert "LoG (σ = 2, 4 mm)" in text and "fixed bin width 5" in text
    assert "applied SMOTE, ComBat harmonisation and feature selection to pooled data" in text

    def change(cfg):
        cfg["cv"]["outer_folds"], cfg["cv"]["outer_repeats"] = 10, 3
        cfg["pearson"]["threshold"] = 0.9
        cfg["balance"]["method"] = "class_weight"
        cfg["harmonize"]["method"] = "none"
        cfg["learners"]["n_trials"] = 7

    edit_yaml(run / "train" / "config.resolved.yaml", change)
    edit_yaml(run / "evaluate" / "config.resolved.yaml", lambda c: c.update(n_bootstrap=999))
    changed = methods_text(run)
    assert "3 × 10-fold stratified cross-validation" in changed
    assert "|Pearson r| > 0.9" in changed and "|Pearson r| > 0.8" not in changed
    before_leakage = changed.split("Every data-dependent step")[0]
    assert "class weighting" in changed and "SMOTE" not in before_leakage
    assert "ComBat" not in before_leakage
    assert "7 trials each" in changed and "999 resamples" in changed


def status_of(run) -> dict[str, str]:
    ctx = ReportContext(load_run(run), ReportConfig())
    return {row.topic: row.status for row in checklist(ctx)}


def test_checklist_is_judged_from_what_the_run_holds(run_without) -> None:
    full = status_of(run_without())
    assert full["Feature robustness"] == "covered"
    assert full["Explainability"] == "covered"
    assert full["Segmentation method and quality"] == "covered"
    assert full["Calibration"] == "covered"
    assert full["Independent external testing"] == "covered"
    assert full["Ethics, funding, conflicts, registration"] == "authors"
    assert full["Model building and tuning"] == "partial"  # no tuning.parquet in this run

    reduced_run = run_without("robustness", "explain", "segment")
    (reduced_run / "evaluate" / "calibration.csv").unlink()
    reduced = status_of(reduced_run)
    assert reduced["Feature robustness"] == "missing"
    assert reduced["Explainability"] == "missing"
    assert reduced["Calibration"] == "missing"
    assert reduced["Segmentation method and quality"] == "partial"
