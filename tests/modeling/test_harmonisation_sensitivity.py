"""Issue 12 item 3: the test AUC under estimate / passthrough / none (refit without ComBat)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiopipe.stats.evaluate import evaluate


def test_train_writes_passthrough_and_no_combat_predictions(trained_run, tmp_path) -> None:
    out = trained_run.out
    extra = pd.read_parquet(out / "sensitivity_predictions.parquet")
    main = pd.read_parquet(out / "predictions.parquet")
    assert set(extra["harmonisation"]) == {"passthrough", "none"}
    passthrough = extra.loc[extra["harmonisation"] == "passthrough"]
    assert set(passthrough["split"]) <= {"internal_test", "external_test"}
    assert "external_test" in set(passthrough["split"])
    none = extra.loc[extra["harmonisation"] == "none"]
    # the refit without ComBat covers the same units: same patients, splits and folds
    key = ["patient_id", "split", "fold", "model"]
    pd.testing.assert_frame_equal(
        none[key].sort_values(key).reset_index(drop=True),
        main[key].sort_values(key).reset_index(drop=True),
    )
    # an unseen centre left unadjusted scores differently from one estimated from itself
    merged = passthrough.merge(main, on=key, suffixes=("_pt", "_est"))
    external = merged.loc[merged["split"] == "external_test"]
    assert not np.allclose(external["probability_pt"], external["probability_est"])

    result = evaluate(
        out / "predictions.parquet", tmp_path / "evaluate", out / "thresholds.json",
        sensitivity_predictions=out / "sensitivity_predictions.parquet",
    )  # fmt: skip
    table = pd.read_csv(result.files["harmonisation_sensitivity.csv"])
    assert list(table.columns[:6]) == [
        "split", "model", "harmonisation", "auc", "auc_ci_low", "auc_ci_high",
    ]  # fmt: skip
    stack = table.loc[(table["model"] == "stack") & (table["split"] == "external_test")]
    assert list(stack["harmonisation"]) == ["estimate", "passthrough", "none"]
    performance = pd.read_csv(result.files["performance.csv"])
    as_trained = performance.loc[
        (performance["model"] == "stack") & (performance["split"] == "external_test"), "auc"
    ].iloc[0]
    assert stack.iloc[0]["auc"] == pytest.approx(as_trained)
    assert "train" not in set(table["split"])


def test_evaluate_command_finds_the_sensitivity_predictions_beside_the_predictions(
    trained_run, cli, tmp_path
) -> None:
    out = tmp_path / "evaluate"
    result = cli(
        "evaluate", "--predictions", trained_run.out / "predictions.parquet", "--out", out,
        "--bootstrap", "200",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "harmonisation_sensitivity.csv")
    assert set(table["harmonisation"]) == {"estimate", "passthrough", "none"}
