"""The performance table (Table 3) and comparisons from the predictions table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from radiopipe.stats.bootstrap import auc_bootstrap_ci
from radiopipe.stats.checks import StatsInputError
from radiopipe.stats.comparisons import paired_comparisons, split_seed, unpaired_comparisons
from radiopipe.stats.delong import auc_delong, delong_test, delong_test_unpaired
from radiopipe.stats.multiplicity import holm
from radiopipe.stats.performance import performance_table, read_thresholds, resolve_thresholds
from radiopipe.stats.predictions import check_predictions, scores
from radiopipe.stats.thresholds import threshold_metrics, youden_threshold

BOOT = 400


@pytest.fixture(scope="module")
def fixed(predictions_factory) -> pd.DataFrame:
    return check_predictions(predictions_factory())


@pytest.fixture(scope="module")
def table(fixed) -> pd.DataFrame:
    return performance_table(fixed, n_resamples=BOOT, seed=3)


def _cut(frame: pd.DataFrame, model: str, split: str) -> pd.DataFrame:
    rows = frame.loc[(frame["model"] == model) & (frame["split"] == split)]
    return rows.sort_values("patient_id")


def test_one_row_per_model_and_split_in_table3_layout(table) -> None:
    assert len(table) == 5 * 4
    assert list(dict.fromkeys(table["split"])) == [
        "train",
        "train_oof",
        "internal_test",
        "external_test",
    ]
    for column in ("auc", "auc_ci_low", "auc_ci_high", "auc_boot_ci_low", "auc_boot_ci_high",
                   "accuracy", "sensitivity", "specificity", "precision", "npv", "f1",
                   "accuracy_ci_low", "precision_ci_high", "threshold", "threshold_source",
                   "delong_p", "delong_p_holm", "auc_text"):  # fmt: skip
        assert column in table.columns, column
    assert table.loc[table["model"] == "stack", "delong_p"].isna().all()
    tested = (table["model"] != "stack") & (table["split"] != "train")
    assert table.loc[tested, "delong_p"].notna().all()
    assert table.loc[table["split"] == "train", "delong_p"].isna().all()  # apparent: no test


def test_auc_columns_equal_direct_computation(fixed, table) -> None:
    row = table.loc[(table["model"] == "rf") & (table["split"] == "external_test")].iloc[0]
    rows = _cut(fixed, "rf", "external_test")
    y, p = rows["label"].to_numpy(), rows["probability"].to_numpy()
    direct = auc_delong(y, p)
    assert row["auc"] == pytest.approx(roc_auc_score(y, p), rel=1e-12)
    assert (row["auc_ci_low"], row["auc_ci_high"]) == pytest.approx((direct.ci_low, direct.ci_high))
    boot = auc_bootstrap_ci(y, p, BOOT, split_seed(3, "external_test"))
    assert (row["auc_boot_ci_low"], row["auc_boot_ci_high"]) == (boot.ci_low, boot.ci_high)
    assert row["auc_text"] == f"{direct.auc:.3f} ({direct.ci_low:.3f}–{direct.ci_high:.3f})"


def test_threshold_is_frozen_from_training_oof(fixed, table) -> None:
    oof = _cut(fixed, "svm", "train_oof")
    point = youden_threshold(oof["label"], oof["probability"])
    rows = table.loc[table["model"] == "svm"]
    assert np.all(rows["threshold"] == point.threshold)
    assert set(rows["threshold_source"]) == {"max Youden on train_oof"}
    test = _cut(fixed, "svm", "internal_test")
    expected = threshold_metrics(test["label"], test["probability"], point.threshold)
    row = rows.loc[rows["split"] == "internal_test"].iloc[0]
    for metric in ("accuracy", "sensitivity", "specificity", "precision", "npv", "f1"):
        assert row[metric] == pytest.approx(expected[metric])
        assert row[f"{metric}_ci_low"] <= row[metric] <= row[f"{metric}_ci_high"]


def test_threshold_sources(fixed, tmp_path) -> None:
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps({"stack": 0.42}))
    given = read_thresholds(path)
    no_oof = fixed.loc[fixed["split"] != "train_oof"]
    resolved = resolve_thresholds(no_oof, given)
    assert resolved["stack"] == (0.42, "thresholds.json")
    assert resolved["rf"][1] == "max Youden on train"
    tests_only = fixed.loc[fixed["split"] == "internal_test"]
    with pytest.raises(StatsInputError, match="model svm: no threshold given"):
        resolve_thresholds(tests_only, given)
    path.write_text(json.dumps({"stack": "high"}))
    with pytest.raises(StatsInputError, match="threshold of model stack is not a number"):
        read_thresholds(path)


def test_delong_p_and_holm_per_split(fixed, table) -> None:
    split = "internal_test"
    ref = _cut(fixed, "stack", split)
    p_values = {}
    for model in ("svm", "rf", "lightgbm", "mlp"):
        other = _cut(fixed, model, split)
        p_values[model] = delong_test(ref["label"], other["probability"], ref["probability"])
    rows = table.loc[table["split"] == split].set_index("model")
    adjusted = holm([p_values[m].p_value for m in p_values])
    for (model, test), p_holm in zip(p_values.items(), adjusted, strict=True):
        assert rows.loc[model, "delong_p"] == pytest.approx(test.p_value, rel=1e-12)
        assert rows.loc[model, "delong_p_holm"] == pytest.approx(p_holm, rel=1e-12)
        assert rows.loc[model, "auc_diff_vs_reference"] == pytest.approx(test.difference)


def test_comparison_tables(fixed) -> None:
    paired = paired_comparisons(fixed, n_resamples=BOOT)
    assert set(paired["split"]) == {"train_oof", "internal_test", "external_test"}  # no train
    assert set(paired["family"]) == {
        f"{split}: stack vs svm, rf, lightgbm, mlp"
        for split in ("train_oof", "internal_test", "external_test")
    }
    row = paired.loc[(paired["model"] == "mlp") & (paired["split"] == "train_oof")].iloc[0]
    assert row["boot_ci_low"] < row["difference"] < row["boot_ci_high"]
    unpaired = unpaired_comparisons(fixed)
    assert len(unpaired) == 5
    stack = unpaired.loc[unpaired["model"] == "stack"].iloc[0]
    a, b = _cut(fixed, "stack", "internal_test"), _cut(fixed, "stack", "external_test")
    direct = delong_test_unpaired(a["label"], a["probability"], b["label"], b["probability"])
    assert stack["statistic"] == pytest.approx(direct.d)
    assert stack["p_value"] == pytest.approx(direct.p_value)


def test_cv_design_fold_and_pooled_auc(cv_predictions) -> None:
    frame = check_predictions(cv_predictions)
    table = performance_table(frame, n_resamples=BOOT)
    row = table.loc[table["model"] == "rf"].iloc[0]
    rows = frame.loc[frame["model"] == "rf"]
    folds = [roc_auc_score(part["label"], part["probability"]) for _, part in rows.groupby("fold")]
    assert row["n_folds"] == 10
    assert row["fold_auc_mean"] == pytest.approx(np.mean(folds))
    assert row["fold_auc_sd"] == pytest.approx(np.std(folds, ddof=1))
    pooled = rows.groupby("patient_id").agg(p=("probability", "mean"), y=("label", "first"))
    assert row["n"] == 90
    assert row["auc"] == pytest.approx(roc_auc_score(pooled["y"], pooled["p"]))
    assert row["threshold_source"] == "max Youden on cv"


def test_same_seed_same_numbers(fixed) -> None:
    subset = fixed.loc[fixed["split"] == "internal_test"]
    first = performance_table(subset, {m: 0.5 for m in set(subset["model"])}, BOOT, seed=1)
    again = performance_table(subset, {m: 0.5 for m in set(subset["model"])}, BOOT, seed=1)
    other = performance_table(subset, {m: 0.5 for m in set(subset["model"])}, BOOT, seed=2)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["auc_boot_ci_low"], other["auc_boot_ci_low"])


@pytest.fixture
def base(predictions_factory) -> pd.DataFrame:
    """A small table: one test split of 20 patients, five models."""
    return predictions_factory(sizes={"internal_test": 20})


def test_missing_columns_are_listed(base) -> None:
    with pytest.raises(StatsInputError, match=r"lacks column.s. fold, label \(required"):
        check_predictions(base.drop(columns=["label", "fold"]))


def test_bad_labels_and_probabilities_name_the_row(base) -> None:
    bad = base.copy()
    bad.loc[3, "label"] = 2
    with pytest.raises(StatsInputError, match=r"labels must be 0 or 1; got 2 at svm/internal_test"):
        check_predictions(bad)
    bad = base.copy()
    bad.loc[bad.index[-1], "probability"] = np.nan
    pid = bad.loc[bad.index[-1], "patient_id"]
    with pytest.raises(
        StatsInputError, match=f"outside .0, 1. at stack/internal_test/patient {pid}"
    ):
        check_predictions(bad)


def test_conflicting_labels_and_duplicates(base) -> None:
    bad = base.copy()
    first = bad.loc[0, "patient_id"]
    bad.loc[(bad["patient_id"] == first) & (bad["model"] == "rf"), "label"] ^= 1
    with pytest.raises(StatsInputError, match=f"patient.s. {first} have different labels"):
        check_predictions(bad)
    doubled = pd.concat([base, base.iloc[:1]])
    with pytest.raises(StatsInputError, match="more than one prediction for svm/internal_test"):
        check_predictions(doubled)


def test_one_class_in_a_split_names_model_and_split(base) -> None:
    frame = base.copy()
    frame["label"] = 0
    frame = check_predictions(frame)
    with pytest.raises(StatsInputError, match="model svm, split internal_test: only label 0"):
        scores(frame, "svm", "internal_test")
    thresholds = dict.fromkeys(set(frame["model"]), 0.5)
    with pytest.raises(StatsInputError, match="split internal_test: only label 0"):
        performance_table(frame, thresholds, BOOT)


def test_mismatched_patients_in_paired_test_are_named(base) -> None:
    frame = base.copy()
    dropped = frame.loc[frame["model"] == "rf", "patient_id"].iloc[4]
    frame = frame.loc[~((frame["model"] == "rf") & (frame["patient_id"] == dropped))]
    frame = check_predictions(frame)
    with pytest.raises(StatsInputError, match=f"only model stack has patient.s. {dropped}"):
        paired_comparisons(frame, n_resamples=BOOT)


def test_declared_family_does_not_shrink_with_the_models_run(fixed) -> None:
    """Holm over the declared family: a declared model that was not run still counts."""
    declared = ["svm", "rf", "lightgbm", "mlp"]
    full = paired_comparisons(fixed, n_resamples=BOOT, compare=declared)
    fewer = paired_comparisons(
        fixed.loc[fixed["model"] != "mlp"], n_resamples=BOOT, compare=declared
    )
    for split in ("internal_test", "external_test"):
        a = full.loc[full["split"] == split].set_index("model")
        b = fewer.loc[fewer["split"] == split].set_index("model")
        assert list(b.index) == ["svm", "rf", "lightgbm"]
        assert set(b["family"]) == {f"{split}: stack vs svm, rf, lightgbm, mlp"}
        expected = holm([*b["p_value"], 1.0])[:3]
        assert list(b["p_holm"]) == pytest.approx(list(expected))
        assert (b["p_holm"] >= holm(list(b["p_value"])) - 1e-15).all()
        assert list(b["p_value"]) == pytest.approx(list(a.loc[b.index, "p_value"]))
    only = paired_comparisons(fixed, n_resamples=BOOT, compare=["rf"])
    assert set(only["model"]) == {"rf"}
    assert (only["p_holm"] == only["p_value"]).all()  # a family of one


def test_nested_cv_threshold_metrics_use_each_folds_own_threshold(cv_predictions) -> None:
    """Issue 12 item 6: the pooled cv rows are classified at their own fold's threshold."""
    from radiopipe.stats.performance import PER_FOLD_SOURCE

    frame = check_predictions(cv_predictions)
    rf = frame.loc[(frame["model"] == "rf") & (frame["split"] == "cv")]
    folds = sorted(rf["fold"].unique())
    cuts = pd.DataFrame(
        {"model": "rf", "fold": folds, "threshold": np.linspace(0.3, 0.7, len(folds))}
    )
    table = performance_table(frame, n_resamples=BOOT, fold_thresholds=cuts)
    row = table.loc[(table["model"] == "rf") & (table["split"] == "cv")].iloc[0]
    assert row["threshold_source"] == PER_FOLD_SOURCE
    lookup = cuts.set_index("fold")["threshold"]
    margin = rf["probability"] - rf["fold"].map(lookup).to_numpy()
    pooled = pd.DataFrame({"p": margin.to_numpy(), "y": rf["label"].to_numpy(),
                           "id": rf["patient_id"].to_numpy()}).groupby("id").mean()  # fmt: skip
    positive = pooled["p"] >= 0
    expected_tp = int((positive & (pooled["y"] == 1)).sum())
    assert row["tp"] == expected_tp
    assert row["sensitivity"] == pytest.approx(expected_tp / int(pooled["y"].sum()))
    # AUC is untouched; a model without per-fold thresholds keeps the pooled rule
    plain = performance_table(frame, n_resamples=BOOT)
    same = plain.loc[(plain["model"] == "rf") & (plain["split"] == "cv")].iloc[0]
    assert row["auc"] == same["auc"]
    other = table.loc[(table["model"] != "rf") & (table["split"] == "cv"), "threshold_source"]
    assert (other == "max Youden on cv").all()
