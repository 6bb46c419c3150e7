"""The tiny CPU configuration learns to segment held-out synthetic patients (Dice >= 0.7), and
the features of its masks agree with those of the reference masks (ICC, robustness stage)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radiopipe.cohort import Cohort, read_manifest
from radiopipe.config import load_config
from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.features.executor import ExecutorOptions
from radiopipe.features.params import validate_params
from radiopipe.features.robustness import compute_robustness
from radiopipe.segment.evaluate import run_evaluation
from radiopipe.segment.predict import predict
from radiopipe.segment.runner import train

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
    _check_feature_agreement(read_manifest(result.manifest), tmp_path / "robustness")


# Shape and intensity features of the lesion, on the original image (no resampling).
PARAMS = {
    "imageType": {"Original": {}},
    "featureClass": {"shape": ["VoxelVolume", "Maximum3DDiameter"], "firstorder": ["Median"]},
    "setting": {"binWidth": 25, "label": 1},
}


def _check_feature_agreement(segmented: Cohort, out: Path) -> None:
    """ICC(2,1) between automatic (mask_) and reference (mask2_) masks, feature by feature."""
    result = compute_robustness(
        segmented, validate_params(PARAMS), out, ExecutorOptions(workers=0),
        include_test=True, sequences=["t2w"], show_progress=False,
    )  # fmt: skip
    assert result.source == "second_mask" and result.failures.empty
    ratings = result.ratings.set_index(["patient_id", "rater"])["t2w__original_shape_VoxelVolume"]
    for patient in segmented.patients[:3]:  # the two raters are the two masks' volumes
        automatic = _volume_mm3(segmented.mask_path(patient, "t2w"))
        reference = _volume_mm3(segmented.mask_path(patient, "t2w", second=True))
        assert sorted(ratings.loc[patient]) == pytest.approx(sorted([automatic, reference]))
    icc = result.icc.set_index("feature")["icc"]
    print(f"ICC automatic vs reference: {icc.round(3).to_dict()}")
    assert icc["t2w__original_shape_VoxelVolume"] >= 0.8


def _volume_mm3(path: Path) -> float:
    mask = sitk.ReadImage(str(path))
    voxels = int(np.count_nonzero(sitk.GetArrayViewFromImage(mask)))
    return voxels * float(np.prod(mask.GetSpacing()))
