"""Late fusion with a real deep model: design -> CNN on its folds -> train with stack_fusion.

The CNN's out-of-fold probabilities enter the stacking meta-learner as an extra input
(``fusion`` in the model config); the fused model is then evaluated like every other one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiopipe.atomic import write_parquet
from radiopipe.cohort import read_manifest
from radiopipe.config.model import FusionSettings
from radiopipe.deep.stage import run_deep_stage
from radiopipe.modeling.design import DesignSettings, design_from_manifest, write_design
from radiopipe.modeling.training import train
from radiopipe.stats.evaluate import evaluate
from tests.modeling.conftest import tiny_config as model_config

from .conftest import tiny_config as deep_config


def _features(manifest, seed: int = 0) -> pd.DataFrame:
    """A small radiomics-like table for the toy patients (two weakly informative columns)."""
    table = read_manifest(manifest).table
    rng = np.random.default_rng(seed)
    label = table["label"].astype(float).to_numpy()
    columns = {
        f"{seq}__original_firstorder_F{j}": rng.normal(size=len(table))
        + (0.8 * label if j < 1 else 0)
        for seq in ("t2w", "cet1w")
        for j in range(6)
    }
    return pd.DataFrame({"patient_id": table["patient_id"].astype(str), **columns})


@pytest.mark.slow
def test_cnn_out_of_fold_probabilities_feed_the_stack(toy_manifest, tmp_path) -> None:
    features = write_parquet(tmp_path / "features.parquet", _features(toy_manifest))
    plain = model_config(learners={"names": ["svm"], "n_trials": 1},
                         harmonise={"method": "none"}, icc={"enabled": False})  # fmt: skip
    # The design, drawn once, gives both families the same folds.
    design = tmp_path / "design"
    write_design(design, *design_from_manifest(toy_manifest, DesignSettings.of(plain)))

    cnn = deep_config("densenet", epochs=2, patience=2)
    deep = run_deep_stage(toy_manifest, design, cnn, tmp_path / "cnn")
    assert (deep.predictions["split"] == "train_oof").any()

    fusion = FusionSettings(predictions=deep.folder / "predictions.parquet", model=cnn.model_name)
    fused = train(features, toy_manifest, plain.model_copy(update={"fusion": fusion}),
                  tmp_path / "fused", design=design)  # fmt: skip
    rows = fused.predictions
    assert {"stack", "stack_fusion"} <= set(rows["model"])
    for split, group in rows.groupby("split"):
        patients = {m: set(g["patient_id"]) for m, g in group.groupby("model")}
        assert patients["stack_fusion"] == patients["stack"], split
    assert rows.loc[rows["model"] == "stack_fusion", "probability"].between(0, 1).all()

    outputs = fused.outputs
    evaluation = evaluate(outputs["predictions"], tmp_path / "evaluate",
                          thresholds=outputs["thresholds"], manifest=toy_manifest)  # fmt: skip
    performance = evaluation.tables["performance.csv"]
    fused_rows = performance[performance["model"] == "stack_fusion"]
    assert set(fused_rows["split"]) >= {"train_oof", "internal_test", "external_test"}
    assert fused_rows["auc"].between(0, 1).all() and fused_rows["delong_p"].notna().any()
