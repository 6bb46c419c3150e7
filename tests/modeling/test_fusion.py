"""Late fusion hook: an external model's out-of-fold probabilities as an extra meta-feature."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from radiopipe.errors import InputError
from radiopipe.modeling.predicting import predict_cohort
from radiopipe.modeling.training import train
from radiopipe.synth.feature_table import simulate_cohort, write_cohort

from .conftest import tiny_config


def test_stack_fusion_trains_and_predicts(tmp_path) -> None:
    cohort = simulate_cohort(
        n_patients=72, n_features=20, n_informative=2, effect=0.5, n_sites=2, site_shift=0.5, seed=9
    )
    features, manifest = write_cohort(cohort, tmp_path / "data")
    clinical = cohort.clinical
    rng = np.random.default_rng(1)
    strong = np.clip(0.5 + 0.35 * (clinical["label"] - 0.5) * 2 + rng.normal(0, 0.15, 72), 0, 1)
    is_train = (clinical["split"] == "train").to_numpy()
    external = pd.DataFrame(
        {
            "patient_id": clinical["patient_id"],
            "split": np.where(is_train, "train_oof", clinical["split"]),
            "fold": np.where(is_train, 0, -1),
            "model": "cnn",
            "probability": strong,
            "label": clinical["label"],
        }
    )
    external.to_parquet(tmp_path / "cnn.parquet", index=False)
    config = tiny_config(
        learners={"names": ["svm"]},
        fusion={"predictions": str(tmp_path / "cnn.parquet"), "model": "cnn"},
    )
    result = train(features, manifest, config, tmp_path / "run")
    predictions = result.predictions
    assert {"stack", "stack_fusion"} <= set(predictions["model"])
    oof = predictions[predictions["split"] == "train_oof"]
    auc = {
        m: roc_auc_score(r["label"].astype(int), r["probability"]) for m, r in oof.groupby("model")
    }
    assert auc["stack_fusion"] > auc["stack"]  # the strong external model helps
    card = json.loads((tmp_path / "run" / "model" / "model.json").read_text(encoding="utf-8"))
    assert card["fusion_model"] == "cnn" and "stack_fusion" in card["thresholds"]
    with pytest.raises(InputError, match="pass --fusion"):
        predict_cohort(tmp_path / "run" / "model", features, manifest)
    scored = predict_cohort(
        tmp_path / "run" / "model", features, manifest, tmp_path / "cnn.parquet"
    )
    assert set(scored["model"]) == set(predictions["model"])


def test_external_predictions_must_follow_the_contract(tmp_path) -> None:
    from radiopipe.modeling.fusion import read_external

    rows = pd.DataFrame(
        {"patient_id": ["P1"], "split": ["train_oof"], "fold": [0], "model": ["cnn"],
         "probability": [0.4], "label": [1]}
    )  # fmt: skip
    path = tmp_path / "predictions.parquet"
    rows.to_parquet(path)
    assert list(read_external(path, "cnn")["patient_id"]) == ["P1"]
    rows.drop(columns="label").to_parquet(path)
    with pytest.raises(InputError, match=r"predictions\.parquet: the predictions table lacks"):
        read_external(path, "cnn")
    rows.assign(split="holdout").to_parquet(path)
    with pytest.raises(InputError, match=r"unknown split name.s. holdout"):
        read_external(path, "cnn")
