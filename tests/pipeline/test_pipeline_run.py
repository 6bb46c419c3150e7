"""``radiopipe run`` end to end on a tiny synthetic cohort: every stage, skipping, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from radiopipe.config.pipeline import load_pipeline
from radiopipe.errors import RadiopipeError
from radiopipe.pipeline import run_pipeline

REPO = Path(__file__).resolve().parents[2]

# Small and quick: original image only, shape + first order + GLCM on a 2 mm grid.
PARAMS = {
    "imageType": {"Original": {}},
    "featureClass": {"shape": None, "firstorder": None, "glcm": None},
    "setting": {"normalize": True, "normalizeScale": 100, "binWidth": 25,
                "resampledPixelSpacing": [2, 2, 2], "interpolator": "sitkBSpline", "label": 1},
}  # fmt: skip
MODEL = {
    "seed": 1,
    "cv": {"outer_folds": 3, "inner_folds": 3},
    "lasso": {"n_strengths": 5},
    "learners": {"n_trials": 2, "timeout_s": 20.0},
}


def write_study(folder: Path, **overrides: object) -> Path:
    (folder / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    (folder / "model.yaml").write_text(yaml.safe_dump(MODEL))
    (folder / "explain.yaml").write_text(yaml.safe_dump({"background_size": 10, "n_jobs": 1}))
    study = {
        "name": "tiny",
        "seed": 3,
        "cohort": {"synth": {"sites": {"A": 14, "B": 12, "C": 10}, "external_sites": ["C"],
                             "size": "tiny", "effect_size": 4.0}},
        "extract": {"params": "params.yaml", "execution": {"workers": 0}},
        "robustness": {"perturbation": {"contour_repeats": 0}, "execution": {"workers": 0}},
        "train": {"config": "model.yaml"},
        "evaluate": {},
        "explain": {"config": "explain.yaml"},
        "report": {"formats": ["html"], "pages_png": False},
    } | overrides  # fmt: skip
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    config = load_pipeline(write_study(folder))
    result = run_pipeline(config, folder / "run")
    return folder, config, result


@pytest.mark.slow
def test_every_stage_writes_its_outputs(finished_run):
    _, _, result = finished_run
    run = result.run
    assert [s.name for s in result.stages] == [
        "cohort", "validate", "design", "extract", "robustness", "train", "evaluate", "explain",
        "report", "bundle",
    ]  # fmt: skip
    assert all(s.status == "ran" for s in result.stages)
    from radiopipe.bundle.loader import load_bundle

    card = json.loads((run / "bundle" / "model_card.json").read_text(encoding="utf-8"))
    assert {(m["model"], m["split"]) for m in card["metrics"]} >= {("stack", "external_test")}
    assert load_bundle(run / "bundle").card["sequences"] == ["t2w", "cet1w"]
    features = pd.read_parquet(run / "extract" / "features.parquet")
    assert len(features) == 36 and any(c.startswith("cet1w__original_glcm") for c in features)
    icc = pd.read_parquet(run / "robustness" / "icc.parquet")
    assert icc["icc"].between(-1, 1).all()
    merged = pd.read_parquet(run / "evaluate" / "predictions.parquet")
    assert {"stack", "internal_test", "external_test"} <= set(merged["model"]) | set(
        merged["split"]
    )
    performance = pd.read_csv(run / "evaluate" / "performance.csv")
    stack_external = performance.query("model == 'stack' and split == 'external_test'")
    assert len(stack_external) == 1 and stack_external["n"].item() == 10
    # The synthetic cohort knows its answer: recovered share of the oracle AUC per model.
    known = pd.read_csv(run / "evaluate" / "known_answer.csv")
    row = known.query("model == 'stack' and split == 'external_test'").iloc[0]
    assert row["auc"] == pytest.approx(stack_external["auc"].item())
    assert row["recovered"] == pytest.approx((row["auc"] - 0.5) / (row["oracle_auc"] - 0.5))
    assert -1 <= row["spearman_true"] <= 1
    by_feature = pd.read_csv(run / "evaluate" / "known_answer_features.csv")
    assert {"latent_cellularity", "latent_vascularity"} <= set(by_feature["property"])
    selected = pd.read_csv(run / "train" / "selected_features.csv")
    assert set(by_feature["feature"]) <= set(selected["feature"])
    assert "Known answer (synthetic cohort)" in result.reports["html"].read_text(encoding="utf-8")
    assert (run / "explain" / "explain.json").is_file()
    html = result.reports["html"]
    assert html == run / "report" / "report.html"
    text = html.read_text(encoding="utf-8")
    assert "stack" in text and "external" in text.lower()
    provenance = json.loads((run / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["command"] == "radiopipe run" and provenance["seed"] == 3


@pytest.mark.slow
def test_second_run_skips_everything_and_a_settings_change_redoes_only_what_depends_on_it(
    finished_run,
):
    _, config, first = finished_run
    again = run_pipeline(config, first.run)
    assert all(s.status == "skipped" for s in again.stages)
    report_html = first.reports["html"].read_text(encoding="utf-8")

    changed = config.model_copy(
        update={"report": config.report.model_copy(update={"title": "Changed title"})}
    )
    redo = run_pipeline(changed, first.run)
    status = {s.name: s.status for s in redo.stages}
    assert status["report"] == "ran"
    assert all(v == "skipped" for k, v in status.items() if k != "report")
    assert "Changed title" in redo.reports["html"].read_text(encoding="utf-8")
    assert "Changed title" not in report_html


@pytest.mark.slow
def test_a_crash_resumes_at_the_failed_stage(finished_run, monkeypatch, tmp_path):
    _, config, first = finished_run
    import radiopipe.explain.stage as explain_stage

    # Force explain to run again, and crash in it.
    monkeypatch.setattr(explain_stage, "explain_run", _crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_pipeline(config, first.run, force=frozenset({"explain"}))
    monkeypatch.undo()
    resumed = run_pipeline(config, first.run)
    status = {s.name: s.status for s in resumed.stages}
    # The forced explain was recorded as not done: it runs; the stages before it are kept.
    assert status["explain"] == "ran"
    assert [status[s] for s in ("cohort", "extract", "train", "evaluate")] == ["skipped"] * 4


def _crash(*args, **kwargs):
    raise RuntimeError("simulated crash")


def test_cohort_problems_stop_the_run_before_any_computation(synthetic_cohort, tmp_path):
    manifest = synthetic_cohort(sites="A:4,B:4", size="tiny")
    table = pd.read_csv(manifest)
    base = manifest.parent
    for column in [c for c in table if c.startswith(("image_", "mask_"))]:
        table[column] = [str((base / p).resolve()) for p in table[column]]
    table.loc[1, "label"] = 2
    broken = tmp_path / "manifest.csv"
    table.to_csv(broken, index=False)
    study = write_study(tmp_path, cohort={"manifest": str(broken)})
    with pytest.raises(RadiopipeError) as err:
        run_pipeline(load_pipeline(study), tmp_path / "run")
    assert str(table.loc[1, "patient_id"]) in str(err.value)
    problems = pd.read_csv(tmp_path / "run" / "validate" / "problems.csv")
    assert len(problems) >= 1
    assert not (tmp_path / "run" / "extract").exists()


@pytest.mark.slow
def test_the_design_stage_fixes_the_folds_train_uses(finished_run):
    _, _, result = finished_run
    design = json.loads((result.run / "design" / "design.json").read_text(encoding="utf-8"))
    assert design["design"] == "fixed_split" and design["folds"] == 3 and design["seed"] == 3
    assert design["reference"] == "stack" and design["n_development"] == 21
    folds = pd.read_csv(result.run / "design" / "folds.csv", dtype={"patient_id": str})
    used = pd.read_csv(result.run / "train" / "folds.csv", dtype={"patient_id": str})
    pd.testing.assert_frame_equal(folds, used)
    cohort = pd.read_csv(result.run / "cohort" / "manifest.csv", dtype={"patient_id": str})
    assert set(folds["patient_id"]) == set(cohort.loc[cohort["split"] == "train", "patient_id"])


@pytest.mark.slow
def test_force_train_refits_every_fold_and_reruns_exactly_the_stages_downstream(
    finished_run, monkeypatch
):
    """The bug this guards: train kept its own marker, so --force train retrained nothing."""
    import radiopipe.modeling.training as training

    _, config, first = finished_run
    run = first.run
    before = pd.read_parquet(run / "train" / "predictions.parquet")
    tuning = pd.read_parquet(run / "train" / "tuning.parquet")
    stamps = {p: p.stat().st_mtime_ns for p in [run / "train" / "tuning.parquet",
                                                *(run / "train" / "model").iterdir()]}  # fmt: skip
    fitted = []
    real = training.run_unit
    crash = {"armed": True}

    def counting(unit, *args, **kwargs):
        fitted.append(unit.name)
        if unit.name == "fold-001" and crash["armed"]:
            crash["armed"] = False
            raise RuntimeError("simulated crash after the first fold")
        return real(unit, *args, **kwargs)

    monkeypatch.setattr(training, "run_unit", counting)
    # A crash after fold-000 leaves its checkpoint: a resume would not fit it again.
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_pipeline(config, run, force=frozenset({"train"}))
    assert any((run / "train" / ".checkpoints").rglob("done.json"))
    fitted.clear()
    redo = run_pipeline(config, run, force=frozenset({"train"}))
    units = ["fold-000", "fold-001", "fold-002", "final"]
    # every fold fitted again, then once more without ComBat (harmonisation sensitivity)
    assert fitted == units + units, "every fold fitted again"
    status = {s.name: s.status for s in redo.stages}
    assert status == {
        "cohort": "skipped", "validate": "skipped", "design": "skipped", "extract": "skipped",
        "robustness": "skipped", "train": "ran", "evaluate": "ran", "explain": "ran",
        "report": "ran", "bundle": "ran",
    }  # fmt: skip
    assert all(p.stat().st_mtime_ns != t for p, t in stamps.items()), "files rewritten"
    pd.testing.assert_frame_equal(pd.read_parquet(run / "train" / "predictions.parquet"), before)
    again = pd.read_parquet(run / "train" / "tuning.parquet")
    pd.testing.assert_frame_equal(again.drop(columns="duration"), tuning.drop(columns="duration"))
    assert not (run / "train" / ".checkpoints").exists()


@pytest.mark.slow
def test_force_of_an_early_stage_reruns_it_and_everything_downstream(finished_run):
    _, config, first = finished_run
    redo = run_pipeline(config, first.run, force=frozenset({"design"}))
    status = {s.name: s.status for s in redo.stages}
    assert [status[s] for s in ("cohort", "validate", "extract", "robustness")] == ["skipped"] * 4
    assert [status[s] for s in ("design", "train", "evaluate", "explain", "report")] == ["ran"] * 5


@pytest.mark.slow
def test_the_pipeline_extract_stage_records_provenance_like_radiopipe_extract(
    finished_run, cli, tmp_path
):
    folder, _, result = finished_run
    run = result.run
    manifest = run / "cohort" / "manifest.csv"
    params = folder / "params.yaml"
    alone = tmp_path / "extract"
    outcome = cli("extract", "--manifest", manifest, "--params", params, "--out", alone,
                  "--workers", "0")  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    in_run = json.loads((run / "extract" / "provenance.json").read_text(encoding="utf-8"))
    by_cli = json.loads((alone / "provenance.json").read_text(encoding="utf-8"))
    for record in (in_run, by_cli):
        assert record["command"] == "extract" and record["stage"] == "extract"
        assert record["manifest"]["path"] == str(manifest.resolve())
        assert set(record["extraction"]) >= {"tasks", "computed", "cached", "failed"}
    same = ("radiopipe", "seed", "config_sha256", "settings_sha256", "inputs", "manifest",
            "packages", "python")  # fmt: skip
    assert {k: in_run[k] for k in same} == {k: by_cli[k] for k in same}
    pd.testing.assert_frame_equal(
        pd.read_parquet(run / "extract" / "features.parquet"),
        pd.read_parquet(alone / "features.parquet"),
    )
    again = cli("extract", "--manifest", manifest, "--params", params, "--out", alone,
                "--workers", "0")  # fmt: skip
    assert again.exit_code == 0 and "up to date" in again.output


@pytest.mark.slow
def test_late_fusion_runs_inside_one_pipeline(tmp_path):
    """deep runs on the design's folds before train, whose stack_fusion takes its predictions."""
    deep = yaml.safe_load((REPO / "configs" / "deep" / "tiny_cnn.yaml").read_text(encoding="utf-8"))
    deep["training"] |= {"epochs": 2, "patience": 2}
    deep["explain"] = {"patients_per_class": 0}
    (tmp_path / "cnn.yaml").write_text(yaml.safe_dump(deep))
    study = write_study(
        tmp_path,
        robustness=None,
        explain=None,
        deep={"models": ["cnn.yaml"]},
        train={"config": "model.yaml", "fusion": deep["name"]},
    )
    result = run_pipeline(load_pipeline(study), tmp_path / "run")
    order = [s.name for s in result.stages]
    assert order.index("design") < order.index("deep") < order.index("train")
    run = result.run
    cnn = pd.read_parquet(run / "deep" / deep["name"] / "predictions.parquet")
    folds = pd.read_csv(run / "design" / "folds.csv", dtype={"patient_id": str})
    oof = cnn.loc[cnn["split"] == "train_oof"]
    assert dict(zip(oof["patient_id"], oof["fold"], strict=True)) == dict(
        zip(folds["patient_id"], folds["fold"], strict=True)
    ), "the CNN's out-of-fold fits use the design's folds"
    merged = pd.read_parquet(run / "evaluate" / "predictions.parquet")
    assert {"stack", "stack_fusion", deep["name"]} <= set(merged["model"])
    fused = merged.loc[merged["model"] == "stack_fusion"]
    stack = merged.loc[merged["model"] == "stack"]
    for split in ("train_oof", "internal_test", "external_test"):
        assert set(fused.loc[fused["split"] == split, "patient_id"]) == set(
            stack.loc[stack["split"] == split, "patient_id"]
        )
    performance = pd.read_csv(run / "evaluate" / "performance.csv")
    assert "stack_fusion" in set(performance["model"])
    provenance = json.loads((run / "train" / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["inputs"]["fusion"]["path"].endswith("predictions.parquet")
