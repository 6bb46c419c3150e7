"""The evaluate stage's exploratory best-model comparisons (an appendix of the report only)."""

from __future__ import annotations

import pandas as pd

from radiopipe.stats.best import best_comparisons, best_models
from radiopipe.stats.comparisons import paired_comparisons


def test_best_model_per_split_and_its_comparisons(fixed_predictions) -> None:
    performance = pd.DataFrame(
        {
            "split": ["internal_test", "internal_test", "internal_test", "train"],
            "model": ["svm", "rf", "mlp", "rf"],
            "auc": [0.8, 0.9, 0.9, 0.7],
        }
    )
    assert best_models(performance) == {"internal_test": "mlp", "train": "rf"}  # tie: by name
    frame = fixed_predictions
    table = best_comparisons(frame, performance, 0.95, 200, seed=5)
    assert set(table["comparison"]) == {"best"}
    internal = table.loc[table["split"] == "internal_test"]
    assert set(internal["reference"]) == {"mlp"}
    assert set(internal["model"]) == set(frame["model"]) - {"mlp"}
    assert (table["split"] != "train").all()  # apparent predictions are never tested
    assert table["family"].str.startswith("exploratory (selected on the test set)").all()
    # the same numbers as a paired comparison against that model, per split (same seeds)
    direct = paired_comparisons(frame.loc[frame["split"] == "internal_test"], "mlp", 0.95, 200, 5)
    pd.testing.assert_frame_equal(
        internal.drop(columns=["comparison", "family"]).reset_index(drop=True),
        direct.drop(columns=["comparison", "family"]).reset_index(drop=True),
    )


def test_best_rows_equal_the_reference_rows_when_the_reference_is_best(fixed_predictions) -> None:
    """When the evaluation's reference is the best model the two files agree exactly, so the
    report shows the numbers it used to recompute."""
    frame = fixed_predictions
    performance = pd.DataFrame({"split": ["external_test"], "model": ["stack"], "auc": [0.99]})
    best = best_comparisons(frame, performance, 0.95, 200, seed=3)
    paired = paired_comparisons(frame, "stack", 0.95, 200, seed=3)
    paired = paired.loc[paired["split"] == "external_test"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        best.drop(columns=["comparison", "family"]), paired.drop(columns=["comparison", "family"])
    )
