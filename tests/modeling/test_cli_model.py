"""``radiopipe train`` / ``predict``: the files and contracts they write, on small data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_curve

from radiopipe.synth.feature_table import simulate_cohort

from .conftest import tiny_config, write_config

CONTRACT = ["patient_id", "split", "fold", "model", "probability", "label"]
MODELS = {"svm", "rf", "lightgbm", "mlp", "stack", "lasso_lr"}


def test_train_writes_every_output_with_its_contract(trained_run) -> None:
    out = trained_run.out
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert list(predictions.columns) == CONTRACT
    assert str(predictions["label"].dtype) == "Int64" and predictions["fold"].dtype == np.int64
    assert set(predictions["model"]) == MODELS
    clinical = trained_run.cohort.clinical.set_index("patient_id")
    train_ids = set(clinical.index[clinical["split"] == "train"])
    oof = predictions[predictions["split"] == "train_oof"]
    assert set(oof["fold"]) == {0, 1, 2}
    assert set(oof["patient_id"]) == train_ids  # every training patient, out of fold
    assert oof.groupby("model")["patient_id"].nunique().eq(len(train_ids)).all()
    final = predictions[predictions["fold"] == -1]
    final_split = final.drop_duplicates("patient_id").set_index("patient_id")["split"]
    assert final_split.to_dict() == clinical["split"].to_dict()  # train rows: apparent
    labels = predictions.drop_duplicates("patient_id").set_index("patient_id")["label"]
    assert (labels.astype(int) == clinical["label"].loc[labels.index]).all()

    folds = pd.read_csv(out / "folds.csv")
    assert list(folds.columns) == ["patient_id", "repeat", "fold"]
    held = oof[oof["model"] == "stack"].set_index("patient_id")["fold"]
    assert held.sort_index().equals(folds.set_index("patient_id")["fold"].sort_index())

    thresholds = json.loads((out / "thresholds.json").read_text(encoding="utf-8"))
    assert set(thresholds) == MODELS
    stack = oof[oof["model"] == "stack"]
    fpr, tpr, cut = roc_curve(stack["label"].astype(int), stack["probability"])
    at = np.flatnonzero(cut == thresholds["stack"])[0]
    assert tpr[at] - fpr[at] == pytest.approx((tpr - fpr).max())  # max Youden on training OOF

    funnel = pd.read_csv(out / "funnel.csv")
    assert list(funnel.columns) == ["fold", "input", "constant", "icc", "ttest", "pearson", "lasso"]
    assert sorted(funnel["fold"]) == [-1, 0, 1, 2]
    assert (funnel["input"] == 40).all()
    counts = funnel[["input", "constant", "icc", "ttest", "pearson", "lasso"]].to_numpy()
    assert (np.diff(counts, axis=1) <= 0).all() and (counts[:, -1] >= 1).all()

    selected = pd.read_csv(out / "selected_features.csv")
    assert list(selected.columns) == ["fold", "feature", "lasso_coef"]
    per_fold = selected.groupby("fold").size()
    assert per_fold.to_dict() == funnel.set_index("fold")["lasso"].to_dict()
    assert (selected["lasso_coef"] != 0).all()
    assert (out / "selection_stability.csv").is_file()

    tuning = pd.read_parquet(out / "tuning.parquet")
    assert list(tuning.columns) == [
        "model",
        "fold",
        "trial",
        "params",
        "value",
        "duration",
        "state",
    ]
    assert set(tuning["model"]) == {"svm", "rf", "lightgbm", "mlp"}
    assert tuning.groupby(["model", "fold"]).size().eq(2).all()  # n_trials per learner and fit
    assert isinstance(json.loads(tuning["params"].iloc[0]), dict)

    card = json.loads((out / "model" / "model.json").read_text(encoding="utf-8"))
    assert card["training_sites"] == ["S1", "S2"] and card["thresholds"] == thresholds
    assert (out / "provenance.json").is_file() and (out / "radiopipe.log").is_file()
    assert "AUC by model and split" in trained_run.output


def test_train_again_is_skipped_when_up_to_date(trained_run, cli) -> None:
    before = (trained_run.out / "predictions.parquet").stat().st_mtime_ns
    result = cli(
        "train",
        "--features",
        trained_run.features,
        "--manifest",
        trained_run.manifest,
        "--config",
        trained_run.config,
        "--out",
        trained_run.out,
    )
    assert result.exit_code == 0 and "up to date" in result.output
    assert (trained_run.out / "predictions.parquet").stat().st_mtime_ns == before


def test_predict_in_process_matches_training_predictions(trained_run, cli, tmp_path) -> None:
    folder = tmp_path / "scored"  # --out is a folder: OUT/predictions.parquet
    out = folder / "predictions.parquet"
    result = cli(
        "predict",
        "--model",
        trained_run.out / "model",
        "--features",
        trained_run.features,
        "--manifest",
        trained_run.manifest,
        "--out",
        folder,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    scored = pd.read_parquet(out)
    assert list(scored.columns) == CONTRACT
    trained = pd.read_parquet(trained_run.out / "predictions.parquet")
    trained = trained[trained["fold"] == -1]
    merged = scored.merge(trained, on=["patient_id", "model"], suffixes=("", "_train"))
    assert len(merged) == len(scored) == 96 * len(MODELS)
    np.testing.assert_allclose(merged["probability"], merged["probability_train"], atol=1e-12)


def test_radmlbench_table_without_manifest_runs_nested_cv(cli, tmp_path) -> None:
    cohort = simulate_cohort(n_patients=60, n_features=25, n_informative=4, effect=1.2, seed=3)
    table = cohort.features.rename(columns={"patient_id": "ID"})
    table.insert(1, "Target", cohort.clinical["label"])
    path = tmp_path / "bench.csv.gz"
    table.to_csv(path, index=False)
    config = write_config(tmp_path / "c.yaml", tiny_config(learners={"names": ["svm", "rf"]}))
    result = cli("train", "--features", path, "--config", config, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    predictions = pd.read_parquet(tmp_path / "run" / "predictions.parquet")
    assert set(predictions["split"]) == {"cv", "train"}
    assert set(predictions["model"]) == {"svm", "rf", "stack", "lasso_lr"}
    card = json.loads((tmp_path / "run" / "model" / "model.json").read_text(encoding="utf-8"))
    assert card["design"] == "nested_cv" and card["has_sites"] is False
    log = (tmp_path / "run" / "radiopipe.log").read_text(encoding="utf-8")
    assert "ComBat harmonisation skipped" in log


def test_bad_input_is_one_clear_error(cli, tmp_path) -> None:
    table = pd.DataFrame({"ID": ["a", "b"], "Target": [0, 1], "f": ["1.0", "oops"]})
    table.to_csv(tmp_path / "bad.csv", index=False)
    result = cli("train", "--features", tmp_path / "bad.csv", "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert "patient b" in result.output and "'oops'" in result.output
    result = cli("train", "--features", tmp_path / "missing.parquet", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "does not exist" in result.output
    (tmp_path / "c.yaml").write_text("learners:\n  names: [svm, xgboost]\n")
    result = cli(
        "train",
        "--features",
        tmp_path / "bad.csv",
        "--config",
        tmp_path / "c.yaml",
        "--out",
        tmp_path / "run",
    )
    assert result.exit_code == 2 and "xgboost" in result.output


def test_predict_one_patient_of_a_new_centre_with_unseen_site_override(
    trained_run, cli, tmp_path
) -> None:
    """Issue 12 item 4: --unseen-site passthrough scores one patient of an unseen centre,
    with the policy written next to the predictions and a warning."""
    manifest = pd.read_csv(trained_run.manifest, dtype=str)
    patient = manifest.loc[manifest["split"] == "external_test", "patient_id"].iloc[0]
    one = tmp_path / "one"
    one.mkdir()
    manifest.loc[manifest["patient_id"] == patient].to_csv(one / "manifest.csv", index=False)
    features = pd.read_parquet(trained_run.features)
    id_column = "patient_id" if "patient_id" in features.columns else features.columns[0]
    features.loc[features[id_column].astype(str) == patient].to_parquet(one / "features.parquet")
    args = ["predict", "--model", trained_run.out / "model", "--features",
            one / "features.parquet", "--manifest", one / "manifest.csv"]  # fmt: skip
    refused = cli(*args, "--out", tmp_path / "a")
    assert refused.exit_code != 0  # estimate needs min_site_size patients scored together
    result = cli(*args, "--out", tmp_path / "b", "--unseen-site", "passthrough")
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "passthrough" in result.output
    policy = json.loads((tmp_path / "b" / "unseen_site_policy.json").read_text(encoding="utf-8"))
    assert policy["trained"] == "estimate" and policy["used"] == "passthrough"
    assert policy["overridden"] is True
    scored = pd.read_parquet(tmp_path / "b" / "predictions.parquet")
    assert set(scored["patient_id"]) == {patient}
    # the same scores as train's passthrough sensitivity predictions of that patient
    extra = pd.read_parquet(trained_run.out / "sensitivity_predictions.parquet")
    extra = extra.loc[(extra["harmonisation"] == "passthrough") & (extra["patient_id"] == patient)]
    merged = scored.merge(extra, on=["patient_id", "model"], suffixes=("", "_pt"))
    assert len(merged) == len(scored)
    np.testing.assert_allclose(merged["probability"], merged["probability_pt"], atol=1e-12)
    bad = cli(*args, "--out", tmp_path / "c", "--unseen-site", "guess")
    assert bad.exit_code == 2 and "--unseen-site" in bad.output
