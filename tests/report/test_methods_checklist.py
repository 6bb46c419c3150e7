"""The methods text follows the run's resolved settings; the checklist follows its contents."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from radiopipe.config.report import ReportConfig
from radiopipe.report.checklist import GUIDELINES, STATUSES, checklist, load_items
from radiopipe.report.contents import load_run
from radiopipe.report.context import ReportContext
from radiopipe.report.methods import methods
from radiopipe.report.references import load_references

# the tests of this module share a session fixture: keep them on one xdist worker
pytestmark = pytest.mark.xdist_group("report_run")


def methods_text(run) -> str:
    ctx = ReportContext(load_run(run), ReportConfig())
    return " ".join(text for _, text in methods(ctx))


def edit_yaml(path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
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


def status_of(run) -> dict[tuple[str, str], str]:
    ctx = ReportContext(load_run(run), ReportConfig())
    return {(row.guideline, row.number): row.status for row in checklist(ctx)}


def test_checklists_list_every_item_of_the_three_guidelines() -> None:
    sizes = {}
    for name in GUIDELINES:
        guideline, reference, items = load_items(name)
        numbers = [i.number for i in items]
        assert len(numbers) == len(set(numbers)), name
        assert reference in load_references(), name
        sizes[guideline] = len(items)
    # TRIPOD+AI: items 1-27 with their sub-items; CLEAR: 58 items; METRICS: 30 items
    assert sizes == {"TRIPOD+AI": 52, "CLEAR": 58, "METRICS": 30}
    assert [i.number for i in load_items("clear")[2]] == [str(n) for n in range(1, 59)]
    assert [i.number for i in load_items("metrics")[2]] == [str(n) for n in range(1, 31)]


def test_checklist_is_judged_from_what_the_run_holds(run_without) -> None:
    full = status_of(run_without())
    assert len(full) == 52 + 58 + 30
    assert set(full.values()) <= set(STATUSES)
    assert full["CLEAR", "31"] == "covered"  # segmentation reliability (ICC)
    assert full["CLEAR", "43"] == "covered"  # explainability
    assert full["CLEAR", "19"] == "covered"  # segmentation strategy
    assert full["METRICS", "22"] == "covered"  # calibration
    assert full["CLEAR", "38"] == "covered"  # external testing
    assert full["METRICS", "9"] == "covered"  # automatic segmentation evaluated
    assert full["TRIPOD+AI", "17"] == "authors"  # ethics
    assert full["TRIPOD+AI", "12f"] == "not applicable"  # no model updating
    assert full["TRIPOD+AI", "12c"] == "partly"  # no tuning.parquet in this run

    reduced_run = run_without("robustness", "explain", "segment", "deep")
    (reduced_run / "evaluate" / "calibration.csv").unlink()
    reduced = status_of(reduced_run)
    assert reduced["CLEAR", "31"] == "missing"
    assert reduced["CLEAR", "43"] == "missing"
    assert reduced["METRICS", "22"] == "missing"
    assert reduced["CLEAR", "19"] == "partly"
    assert reduced["METRICS", "9"] == "not applicable"
    assert reduced["METRICS", "17"] == "not applicable"  # no deep model
    assert full["METRICS", "17"] == "partly"


def test_methods_name_the_patients_of_the_icc(run_without) -> None:
    """The ICC sentence says how many patients the ICC used and how they were chosen."""
    run = run_without("segment", "deep")
    n = int(pd.read_parquet(run / "robustness" / "icc.parquet")["n_patients"].max())
    text = methods_text(run)
    assert (
        "between the original and perturbed (eroded and dilated by 1 mm, 1 random contour shift)"
        in text
    )
    assert f"masks on {n} training patients;" in text
    assert "random sample" not in text
    config = run / "robustness" / "config.resolved.yaml"
    config.write_text(yaml.safe_dump({"source": "auto", "max_patients": None}), encoding="utf-8")
    edit_yaml(config, lambda c: c.update(max_patients=n, sample_seed=7))
    assert f"masks on {n} training patients (a random sample drawn with seed 7);" in (
        methods_text(run)
    )
    edit_yaml(config, lambda c: c.update(max_patients=n + 5, include_test=True))
    assert f"masks on {n} patients of every split;" in methods_text(run)
    perturbation = {"radius_mm": 1.5, "contour_repeats": 0}
    edit_yaml(config, lambda c: c.update(perturbation=perturbation))
    assert "between the original and perturbed (eroded and dilated by 1.5 mm) masks" in (
        methods_text(run)
    )
