"""The known-answer table: the oracle recovers everything, noise nothing, and a model between."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiopipe.stats.known_answer import (
    find_truth,
    known_answer,
    known_answer_features,
    read_truth,
)


@pytest.fixture
def truth() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    latent = rng.normal(size=n)
    probability = 1 / (1 + np.exp(-2.0 * latent))
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "latent_cellularity": latent,
            "latent_fat": rng.normal(size=n),
            "probability": probability,
            "label": (rng.uniform(size=n) < probability).astype(int),
        }
    ).set_index("patient_id")


def _rows(truth: pd.DataFrame, model: str, probability: np.ndarray, split="external_test"):
    return pd.DataFrame({"patient_id": truth.index, "split": split, "fold": -1,
                         "model": model, "probability": probability,
                         "label": truth["label"].to_numpy()})  # fmt: skip


def test_oracle_recovers_all_noise_nothing_and_a_blurred_model_part(truth) -> None:
    rng = np.random.default_rng(1)
    blurred = 1 / (1 + np.exp(-(2.0 * truth["latent_cellularity"] + rng.normal(0, 2, 200))))
    predictions = pd.concat([
        _rows(truth, "oracle", truth["probability"].to_numpy()),
        _rows(truth, "noise", rng.uniform(size=200)),
        _rows(truth, "blurred", blurred.to_numpy()),
    ])  # fmt: skip
    table = known_answer(predictions, truth).set_index("model")
    assert table.loc["oracle", "recovered"] == pytest.approx(1.0)
    assert table.loc["oracle", "spearman_true"] == pytest.approx(1.0)
    assert abs(table.loc["noise", "recovered"]) < 0.25
    assert 0.3 < table.loc["blurred", "recovered"] < 0.95
    assert table["oracle_auc"].nunique() == 1  # the same ceiling for every model
    expected = (table.loc["blurred", "auc"] - 0.5) / (table.loc["blurred", "oracle_auc"] - 0.5)
    assert table.loc["blurred", "recovered"] == pytest.approx(expected)


def test_pooled_splits_average_repeats_before_scoring(truth) -> None:
    first = _rows(truth, "m", truth["probability"].to_numpy(), split="cv").assign(fold=0)
    second = first.assign(fold=3, probability=1 - first["probability"])  # cancels out
    table = known_answer(pd.concat([first, second]), truth)
    assert table["auc"].item() == pytest.approx(0.5)


def test_selected_features_correlate_with_the_property_they_measure(truth) -> None:
    rng = np.random.default_rng(2)
    features = pd.DataFrame({
        "patient_id": truth.index,
        "t2w__original_firstorder_Mean": truth["latent_cellularity"] + rng.normal(0, 0.3, 200),
        "t2w__original_glcm_Contrast": rng.normal(size=200),
    })  # fmt: skip
    selected = pd.DataFrame({"fold": [0, 1, -1, 0],
                             "feature": ["t2w__original_firstorder_Mean"] * 3
                             + ["t2w__original_glcm_Contrast"]})  # fmt: skip
    table = known_answer_features(features, selected, truth)
    assert table["feature"].iloc[0] == "t2w__original_firstorder_Mean"  # final model's first
    mean = table.set_index(["feature", "property"]).loc["t2w__original_firstorder_Mean"]
    assert mean.loc["latent_cellularity", "spearman"] > 0.9
    assert abs(mean.loc["latent_fat", "spearman"]) < 0.2
    assert mean["selected_in_folds"].iloc[0] == 2
    assert set(table["property"]) == {"latent_cellularity", "latent_fat"}


def test_truth_is_found_beside_the_manifest_only(tmp_path, truth) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("patient_id\n")
    assert find_truth(manifest) is None and find_truth(None) is None
    truth.reset_index().to_csv(tmp_path / "truth.csv", index=False)
    assert find_truth(manifest) == tmp_path / "truth.csv"
    assert read_truth(tmp_path / "truth.csv").index.dtype == object
