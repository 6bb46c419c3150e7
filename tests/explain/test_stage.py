"""The explain stage on a run folder: inputs from the layout, outputs, skipping, the check
against the training stage's predictions, clear errors, and the ``explain`` command.

The modelling stage's artefact loader is replaced by the fitted test pipeline here; the real
artefact path is exercised once radiopipe.modeling is on main (see test_with_real_model)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from radiopipe.cli import USER_ERROR_EXIT
from radiopipe.config.explain import ExplainConfig
from radiopipe.errors import InputError
from radiopipe.explain import stage
from radiopipe.explain.stage import ExplainInputs, explain_run

# the tests of this module share a session fixture: keep them on one xdist worker
pytestmark = pytest.mark.xdist_group("explain_fit")

CONFIG = ExplainConfig(background_size=10, n_jobs=1, models=["stack"], waterfall_examples=0)


@pytest.fixture
def run(tmp_path, fitted, monkeypatch):
    """A run folder with the files the stage checks, and the loader patched to the fixture."""
    pipeline, X, patients, train = fitted
    root = tmp_path / "run"
    (root / "train" / "model").mkdir(parents=True)
    (root / "train" / "model" / "model.json").write_text(json.dumps({"design": "fixed_split"}))
    (root / "extract").mkdir()
    X.reset_index().to_parquet(root / "extract" / "features.parquet")
    (root / "cohort").mkdir()
    patients.reset_index().to_csv(root / "cohort" / "manifest.csv", index=False)
    (root / "train" / "thresholds.json").write_text(json.dumps({"stack": 0.4}))
    stack = pipeline.predict_proba(X)[:, 1]
    pd.DataFrame({"patient_id": X.index, "split": patients["split"], "fold": -1, "model": "stack",
                  "probability": stack, "label": patients["label"]}).to_parquet(
        root / "train" / "predictions.parquet")  # fmt: skip
    calls = []

    def load(inputs):
        calls.append(inputs)
        return pipeline, X, patients, train

    monkeypatch.setattr(stage, "load_inputs", load)
    return root, calls


def test_stage_writes_outputs_checks_predictions_and_skips_when_up_to_date(run) -> None:
    from radiopipe.pipeline.engine import run_single
    from radiopipe.pipeline.model_stages import explain_stage

    root, calls = run
    inputs = ExplainInputs.from_run(root)
    given = {
        "train": {"model": inputs.model / "model.json", "thresholds": inputs.thresholds},
        "extract": {"features": inputs.features},
        "cohort": {"manifest": inputs.manifest},
    }
    results = []
    _, report = run_single(explain_stage(CONFIG, results.append), inputs.out, given=given)
    assert report.status == "ran"
    summary = json.loads((root / "explain" / "explain.json").read_text(encoding="utf-8"))
    assert summary["prediction_check"]["max_abs_difference"] < 1e-12
    assert summary["threshold"] == 0.4 and summary["model_order"] == ["stack"]
    provenance = json.loads((root / "explain" / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["command"] == "explain" and provenance["seed"] == CONFIG.seed
    assert (root / "explain" / "plots" / "stack_beeswarm.png").is_file()
    # same inputs and settings: the engine skips it, nothing is recomputed
    _, report = run_single(explain_stage(CONFIG), inputs.out, given=given)
    assert report.status == "skipped" and len(calls) == 1
    other = CONFIG.model_copy(update={"seed": 5})
    _, report = run_single(explain_stage(other), inputs.out, given=given)
    assert report.status == "ran" and len(calls) == 2
    _, report = run_single(explain_stage(other), inputs.out, force=True, given=given)
    assert report.status == "ran" and len(calls) == 3
    # the library function itself is plain: it computes every time
    again = explain_run(inputs, CONFIG)
    assert len(calls) == 4
    pd.testing.assert_frame_equal(again.models["stack"].importance(),
                                  results[0].models["stack"].importance())  # fmt: skip


def test_missing_inputs_name_the_file_and_the_stage(run) -> None:
    root, _ = run
    (root / "extract" / "features.parquet").unlink()
    with pytest.raises(InputError, match="run `radiopipe extract`") as err:
        explain_run(ExplainInputs.from_run(root), CONFIG)
    assert "features.parquet" in str(err.value)


def test_explain_command(cli, run, tmp_path) -> None:
    root, calls = run
    config = tmp_path / "explain.yaml"
    config.write_text("models: [stack]\nwaterfall_examples: 0\nbackground_size: 10\n")
    result = cli("explain", "--run", root, "--config", config, "--jobs", "1", "--patient", "P100")
    assert result.exit_code == 0, result.output
    assert "stack: 120 patients" in " ".join(result.output.split())
    assert (root / "explain" / "plots" / "stack_waterfall_P100.png").is_file()
    result = cli("explain", "--run", root, "--config", config, "--patient", "nobody", "--force")
    assert result.exit_code == USER_ERROR_EXIT and "nobody" in result.output
    config.write_text("modles: [stack]\n")
    result = cli("explain", "--run", root, "--config", config)
    assert result.exit_code == USER_ERROR_EXIT and "unknown key 'modles'" in result.output
    assert len(calls) == 2  # the bad patient failed after loading, before any SHAP work


@pytest.mark.slow
def test_with_the_modelling_stages_artefact(tmp_path) -> None:
    """Train with radiopipe.modeling, then explain through its safe loader (no patching)."""
    from radiopipe.config import parse_config
    from radiopipe.config.model import ModelConfig
    from radiopipe.modeling.training import train
    from tests.explain.builders import make_data

    X, _, patients = make_data(n=80, seed=2)
    patients["site"] = ["A", "B"] * 40  # every training fold holds both sites (ComBat)
    root = tmp_path / "run"
    (root / "extract").mkdir(parents=True)
    X.reset_index().to_parquet(root / "extract" / "features.parquet")
    (root / "cohort").mkdir()
    manifest = patients.reset_index().assign(image_t2w="t2w.nii.gz")
    manifest.to_csv(root / "cohort" / "manifest.csv", index=False)
    config = parse_config(
        {"cv": {"outer_folds": 2, "inner_folds": 2}, "lasso": {"n_strengths": 5},
         "learners": {"n_trials": 1}, "baseline": {"enabled": False}},
        ModelConfig,
    )  # fmt: skip
    train(root / "extract" / "features.parquet", root / "cohort" / "manifest.csv", config,
          root / "train")  # fmt: skip
    result = explain_run(ExplainInputs.from_run(root), CONFIG.model_copy(update={"models":
                         ["stack", "rf", "lightgbm"]}))  # fmt: skip
    summary = json.loads((root / "explain" / "explain.json").read_text(encoding="utf-8"))
    assert summary["prediction_check"]["max_abs_difference"] < 1e-9
    assert summary["prediction_check"]["patients"] == len(patients)
    assert set(result.models) == {"stack", "rf", "lightgbm"}
    for ex in result.models.values():
        assert ex.additivity_error < 1e-6
    # the train stage wrote its harmonisation diagnostics with the same artefact's ComBat step
    harmonisation = pd.read_csv(root / "train" / "harmonisation.csv")
    assert list(harmonisation["features"]) == ["before", "after"]
    pca = pd.read_csv(root / "train" / "harmonisation_pca.csv", dtype={"patient_id": str})
    assert sorted(pca.loc[pca["features"] == "after", "patient_id"]) == sorted(X.index)
