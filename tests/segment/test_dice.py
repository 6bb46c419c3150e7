"""The tiny CPU configuration learns to segment held-out synthetic patients (Dice >= 0.7)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radiopipe.cohort import read_manifest
from radiopipe.config import load_config
from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.segment.evaluate import run_evaluation
from radiopipe.segment.predict import predict
from radiopipe.segment.train import train

TINY = Path(__file__).resolve().parents[2] / "configs" / "segmentation" / "tiny.yaml"


@pytest.mark.slow
def test_tiny_config_reaches_dice_on_held_out_synthetic_t2w(synthetic_cohort, tmp_path) -> None:
    cohort = read_manifest(synthetic_cohort(sites="A:24,B:8", size="tiny", seed=0))
    config = load_config(TINY, SegmentationConfig).model_copy(update={"sequences": ["t2w"]})
    states = train(cohort, config, tmp_path / "model", show_progress=False)
    assert states["t2w"].done and states["t2w"].best_dice > 0.6

    division = pd.read_csv(tmp_path / "model" / "division.csv")
    held_out_ids = [p for p in cohort.patients if cohort.row(p)["split"] != "train"]
    assert not set(division["patient_id"]) & set(held_out_ids)

    held_out = cohort.subset(patients=held_out_ids)
    result = predict(held_out, tmp_path / "model", tmp_path / "pred", show_progress=False)
    assert result.failures.empty
    evaluation = run_evaluation(read_manifest(result.manifest), tmp_path / "eval", overlays=0)
    metrics = evaluation.metrics
    assert len(metrics) == len(held_out_ids) >= 10
    assert set(metrics["split"]) == {"internal_test", "external_test"}
    mean_dice = metrics["dice"].mean()
    print(f"held-out T2WI Dice: mean {mean_dice:.3f}, per split "
          f"{metrics.groupby('split')['dice'].mean().round(3).to_dict()}")  # fmt: skip
    assert mean_dice >= 0.7
    assert metrics["hd95_mm"].median() < 15.0
