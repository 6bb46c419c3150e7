"""Issue 12 item 6: in the nested design each outer fold's threshold is chosen on the inner
out-of-fold predictions of its own training patients, never on the rows it scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiopipe.modeling.training import train

from .conftest import tiny_config


def _table(path, X: np.ndarray, y: np.ndarray) -> str:
    table = pd.DataFrame(X, columns=[f"f{j:02d}" for j in range(X.shape[1])])
    table.insert(0, "ID", [f"P{i:03d}" for i in range(len(y))])
    table.insert(1, "Target", y)
    table.to_csv(path, index=False)
    return path


@pytest.mark.slow  # two small nested-CV trainings (~40 s on 2 cores)
def test_a_fold_threshold_never_sees_the_rows_it_scores(tmp_path) -> None:
    rng = np.random.default_rng(3)
    y = rng.permutation(np.r_[np.ones(24, int), np.zeros(30, int)])
    X = rng.normal(size=(len(y), 12))
    X[:, :3] += 1.2 * y[:, None]  # some signal, so the thresholds are not degenerate
    config = tiny_config(design="nested_cv", cv={"outer_folds": 3, "inner_folds": 3})
    first = train(_table(tmp_path / "a.csv", X, y), None, config, tmp_path / "a")
    folds = pd.read_csv(tmp_path / "a" / "folds.csv", dtype={"patient_id": str})
    fold_thresholds = pd.read_csv(tmp_path / "a" / "fold_thresholds.csv")
    assert set(fold_thresholds["fold"]) == {0, 1, 2}
    assert {"stack", "lasso_lr", "rf"} <= set(fold_thresholds["model"])
    held_out = folds.loc[folds["fold"] == 0, "patient_id"]
    # the inner OOF rows are the fold's training patients only
    n_train = len(y) - len(held_out)
    assert (fold_thresholds.loc[fold_thresholds["fold"] == 0, "n_inner"] == n_train).all()
    assert first.predictions["fold"].max() == 2

    # Replace the held-out patients of fold 0 by noise: fold 0's thresholds must not move.
    rows = held_out.str[1:].astype(int).to_numpy()
    X2 = X.copy()
    X2[rows] = rng.normal(size=(len(rows), X.shape[1])) * 5
    train(_table(tmp_path / "b.csv", X2, y), None, config, tmp_path / "b")
    assert (pd.read_csv(tmp_path / "b" / "folds.csv")["fold"] == folds["fold"]).all()
    again = pd.read_csv(tmp_path / "b" / "fold_thresholds.csv")
    a = fold_thresholds.loc[fold_thresholds["fold"] == 0].set_index("model")["threshold"]
    b = again.loc[again["fold"] == 0].set_index("model")["threshold"]
    pd.testing.assert_series_equal(a, b)
    # whereas the pooled out-of-fold threshold (the old rule) does depend on those rows
    pooled_a = first.thresholds["stack"]
    pooled_b = pd.read_json(tmp_path / "b" / "thresholds.json", typ="series")["stack"]
    assert pooled_a != pooled_b


def test_fixed_split_writes_no_fold_thresholds(trained_run) -> None:
    table = pd.read_csv(trained_run.out / "fold_thresholds.csv")
    assert list(table.columns) == ["model", "fold", "threshold", "n_inner", "source"]
    assert table.empty
