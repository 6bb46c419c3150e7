"""``radiopipe evaluate`` end to end: every table written, provenance, resume, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiopipe.cli import USER_ERROR_EXIT

TABLES = (
    "performance.csv", "delong.csv", "fold_auc.csv", "calibration.csv", "reliability.csv",
    "decision_curve.csv", "roc_curves.parquet", "cohort_table.csv", "thresholds_used.json",
    "best_comparisons.csv",
)  # fmt: skip


@pytest.fixture
def inputs(request, tmp_path: Path, predictions_factory) -> dict[str, Path]:
    sizes = getattr(request, "param", {"train": 60, "internal_test": 30, "external_test": 30})
    frame = predictions_factory(sizes=sizes)
    predictions = tmp_path / "predictions.parquet"
    frame.to_parquet(predictions)
    thresholds = tmp_path / "thresholds.json"
    given = {"stack": 0.5} if "train" in sizes else dict.fromkeys(set(frame["model"]), 0.5)
    thresholds.write_text(json.dumps(given))
    patients = frame.drop_duplicates("patient_id").loc[lambda f: f["split"] != "train_oof"]
    rng = np.random.default_rng(0)
    manifest = pd.DataFrame(
        {
            "patient_id": patients["patient_id"], "site": np.where(
                patients["split"] == "external_test", "B", "A"),
            "split": patients["split"], "label": patients["label"],
            "image_t2w": [f"img/{p}.nii.gz" for p in patients["patient_id"]],
            "age": rng.normal(39, 7, len(patients)).round(0).astype(int),
            "fibroid_type": rng.choice(["I", "II", "III"], len(patients)),
        }
    )  # fmt: skip
    manifest_path = tmp_path / "manifest.csv"
    manifest.to_csv(manifest_path, index=False)
    config = tmp_path / "evaluate.yaml"
    config.write_text(
        "decision_curve: {start: 0.05, stop: 0.95, step: 0.05}\nroc_grid_points: 51\n"
    )
    return {"predictions": predictions, "thresholds": thresholds, "manifest": manifest_path,
            "config": config, "out": tmp_path / "run"}  # fmt: skip


def _text(result) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def _evaluate(cli, inputs, *extra: object):
    return cli(
        "evaluate", "--predictions", inputs["predictions"], "--thresholds", inputs["thresholds"],
        "--manifest", inputs["manifest"], "--config", inputs["config"], "--out", inputs["out"],
        "--bootstrap", 300, "--seed", 7, *extra,
    )  # fmt: skip


def test_evaluate_writes_every_table_with_provenance(cli, inputs) -> None:
    result = _evaluate(cli, inputs)
    assert result.exit_code == 0, result.output
    out = inputs["out"]
    for name in TABLES:
        assert (out / name).is_file(), name
    assert not list(out.glob(".*.tmp*")), "temporary files left behind"
    performance = pd.read_csv(out / "performance.csv")
    assert len(performance) == 5 * 4
    stack = performance.loc[performance["model"] == "stack"]
    assert set(stack["threshold"]) == {0.5}
    assert set(stack["threshold_source"]) == {"thresholds.json"}
    delong = pd.read_csv(out / "delong.csv")
    assert set(delong["comparison"]) == {"paired", "unpaired"}
    roc = pd.read_parquet(out / "roc_curves.parquet")
    band = roc.loc[(roc["curve"] == "band") & (roc["model"] == "svm") & (roc["split"] == "train")]
    assert len(band) == 51 and band["tpr_ci_low"].notna().all()
    curves = pd.read_csv(out / "decision_curve.csv")
    assert {"treat_all", "treat_none", "stack"} <= set(curves["model"])
    assert curves["threshold"].nunique() == 19
    cohort = pd.read_csv(out / "cohort_table.csv", keep_default_na=False)
    assert {"age", "fibroid_type"} <= set(cohort["variable"])
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["seed"] == 7
    assert provenance["inputs"]["predictions"]["sha256"]
    assert provenance["manifest"]["sha256"]
    resolved = (out / "config.resolved.yaml").read_text(encoding="utf-8")
    assert "n_bootstrap: 300" in resolved and "step: 0.05" in resolved
    assert "AUC (95% DeLong CI)" in _text(result)


@pytest.mark.parametrize("inputs", [{"internal_test": 30}], indirect=True)
def test_rerun_skips_and_force_reproduces(cli, inputs) -> None:
    assert _evaluate(cli, inputs).exit_code == 0
    out = inputs["out"]
    before = {n: (out / n).read_bytes() for n in TABLES if n.endswith(".csv")}
    stamp = (out / "performance.csv").stat().st_mtime_ns
    assert _evaluate(cli, inputs).exit_code == 0
    assert (out / "performance.csv").stat().st_mtime_ns == stamp  # up to date: not rewritten
    assert _evaluate(cli, inputs, "--force").exit_code == 0
    assert (out / "performance.csv").stat().st_mtime_ns != stamp
    for name, content in before.items():
        assert (out / name).read_bytes() == content, f"{name} differs for the same seed"


@pytest.mark.parametrize("inputs", [{"internal_test": 20, "external_test": 20}], indirect=True)
def test_invalid_predictions_exit_2_with_a_clear_message(cli, inputs) -> None:
    frame = pd.read_parquet(inputs["predictions"])
    frame.drop(columns=["label"]).to_parquet(inputs["predictions"])
    result = _evaluate(cli, inputs)
    assert result.exit_code == USER_ERROR_EXIT
    assert "lacks column(s) label" in _text(result)
    victim = frame.loc[frame["split"] == "external_test", "patient_id"].iloc[0]
    frame.loc[~((frame["model"] == "mlp") & (frame["patient_id"] == victim))].to_parquet(
        inputs["predictions"]
    )
    result = _evaluate(cli, inputs, "--force")
    assert result.exit_code == USER_ERROR_EXIT
    assert "split external_test" in _text(result) and victim in _text(result)
    assert not (inputs["out"] / "performance.csv").exists()


def test_bad_config_and_missing_file(cli, inputs, tmp_path) -> None:
    inputs["config"].write_text("bootstrapp: 10\n")
    result = _evaluate(cli, inputs)
    assert result.exit_code == USER_ERROR_EXIT
    assert "unknown key 'bootstrapp'" in _text(result)
    inputs["config"].write_text("")
    inputs["thresholds"] = tmp_path / "absent.json"
    result = _evaluate(cli, inputs)
    assert result.exit_code == USER_ERROR_EXIT
    assert "absent.json: thresholds file does not exist" in _text(result)


@pytest.mark.parametrize("inputs", [{"internal_test": 20}], indirect=True)
def test_labels_must_agree_with_the_manifest(cli, inputs) -> None:
    manifest = pd.read_csv(inputs["manifest"], dtype=str)
    patient = manifest.loc[0, "patient_id"]
    manifest.loc[0, "label"] = "1" if manifest.loc[0, "label"] == "0" else "0"
    manifest.to_csv(inputs["manifest"], index=False)
    result = _evaluate(cli, inputs)
    assert result.exit_code == USER_ERROR_EXIT
    assert f"disagree with {inputs['manifest']} for 1 patient(s): {patient}" in _text(result)
