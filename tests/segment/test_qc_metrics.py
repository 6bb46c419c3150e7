"""Post-processing, TTA agreement, QC flags and the agreement metrics in millimetres."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import torch

from radiopipe.config.segmentation import QCSettings, SegmentationConfig
from radiopipe.errors import InputError
from radiopipe.segment.infer import dice, postprocess, tta_agreement
from radiopipe.segment.metrics import compare_masks, mask_agreement, summarise
from radiopipe.segment.qc import qc_row, touches_border


def _ball(shape, radius, centre) -> np.ndarray:
    zz, yy, xx = np.indices(shape)
    return (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= radius**2


def _image(array: np.ndarray, spacing=(1.0, 1.0, 1.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing(spacing)
    return image


def test_postprocess_keeps_largest_component_and_fills_holes() -> None:
    array = _ball((30, 30, 30), 8, (15, 15, 15))
    array[15, 15, 15] = False  # an enclosed hole
    array[1:3, 1:3, 1:3] = True  # a small false positive
    cleaned, components = postprocess(_image(array), SegmentationConfig())
    out = sitk.GetArrayFromImage(cleaned).astype(bool)
    assert components == 2
    assert out[15, 15, 15] and not out[1:3, 1:3, 1:3].any()
    assert out.sum() == _ball((30, 30, 30), 8, (15, 15, 15)).sum()
    raw = SegmentationConfig(inference={"keep_largest_component": False, "fill_holes": False})
    assert sitk.GetArrayFromImage(postprocess(_image(array), raw)[0]).sum() == array.sum()


def test_tta_agreement_is_high_for_agreeing_and_low_for_disagreeing_members() -> None:
    a = torch.as_tensor(_ball((20, 20, 20), 6, (10, 10, 10))).float()
    assert tta_agreement([a, a, a], 0.5) == 1.0
    near, far = torch.roll(a, 1, dims=0), torch.roll(a, 5, dims=0)
    assert 0.9 < tta_agreement([a, near, a], 0.5) < 1.0
    assert tta_agreement([a, far, a], 0.5) < 0.9
    assert math.isnan(tta_agreement([a], 0.5))
    assert dice(np.zeros(3), np.zeros(3)) == 1.0


def test_qc_flags() -> None:
    settings = QCSettings(min_volume_ml=0.5, min_tta_agreement=0.9)
    shape = (20, 30, 30)
    good = qc_row(_image(_ball(shape, 7, (10, 15, 15))), None, 0.95, 1, settings)
    assert good["passed"] and good["flags"] == ""
    assert good["volume_ml"] == pytest.approx(4 / 3 * math.pi * 7**3 / 1000, rel=0.05)
    empty = qc_row(_image(np.zeros(shape)), None, float("nan"), 0, settings)
    assert empty["flags"] == "empty" and not empty["passed"]
    tiny = qc_row(_image(_ball(shape, 2, (10, 15, 15))), None, 0.95, 1, settings)
    assert tiny["flags"] == "tiny"
    border = qc_row(_image(_ball(shape, 6, (2, 15, 15))), None, 0.5, 3, settings)
    assert border["flags"] == "touches_border;low_confidence"
    near = _ball(shape, 5, (10, 15, 7))  # reaches x = 2
    assert not touches_border(near) and touches_border(near, margin=2)


def test_agreement_of_shifted_balls_in_millimetres() -> None:
    ref = _ball((40, 40, 40), 10, (20, 20, 20))
    pred = _ball((40, 40, 40), 10, (20, 20, 23))  # shifted 3 voxels along x
    iso = mask_agreement(pred, ref, (1.0, 1.0, 1.0))
    assert iso["dice"] == pytest.approx(2 * (ref & pred).sum() / (ref.sum() + pred.sum()))
    assert iso["hd95_mm"] == pytest.approx(3.0, abs=0.01)
    assert 0.5 < iso["msd_mm"] < 3.0
    scaled = mask_agreement(pred, ref, (2.0, 2.0, 2.0))
    assert scaled["hd95_mm"] == pytest.approx(2 * iso["hd95_mm"])
    assert scaled["msd_mm"] == pytest.approx(2 * iso["msd_mm"])
    # Spacing follows the array axes: a shift along axis 0 with 2 mm there equals, by the
    # ball's symmetry, a shift along axis 2 with 2 mm there, and differs from 2 mm elsewhere.
    along_z = mask_agreement(_ball((40, 40, 40), 10, (23, 20, 20)), ref, (2.0, 1.0, 1.0))
    along_x = mask_agreement(pred, ref, (1.0, 1.0, 2.0))
    assert along_z["hd95_mm"] == pytest.approx(along_x["hd95_mm"])
    assert along_x["hd95_mm"] > iso["hd95_mm"] + 1
    assert mask_agreement(pred, ref, (2.0, 1.0, 1.0))["hd95_mm"] != pytest.approx(
        along_x["hd95_mm"]
    )
    same = mask_agreement(ref, ref, (1.0, 1.0, 1.0))
    assert same == {"dice": 1.0, "hd95_mm": 0.0, "msd_mm": 0.0}
    empty = mask_agreement(np.zeros_like(ref), ref, (1.0, 1.0, 1.0))
    assert empty["dice"] == 0.0 and math.isnan(empty["hd95_mm"])


def test_compare_masks_volumes_and_grid_check() -> None:
    ref = _image(_ball((20, 20, 20), 5, (10, 10, 10)), spacing=(0.5, 0.5, 2.0))
    pred = _image(_ball((20, 20, 20), 6, (10, 10, 10)), spacing=(0.5, 0.5, 2.0))
    row = compare_masks(pred, ref, "P1", "pred.nii.gz")
    voxel_ml = 0.5 * 0.5 * 2.0 / 1000
    assert row["volume_ref_ml"] == pytest.approx(sitk.GetArrayFromImage(ref).sum() * voxel_ml)
    assert row["volume_diff_ml"] == pytest.approx(row["volume_pred_ml"] - row["volume_ref_ml"])
    assert row["volume_diff_pct"] > 0
    moved = _image(_ball((20, 20, 20), 5, (10, 10, 10)), spacing=(0.5, 0.5, 2.0))
    moved.SetOrigin((0.0, 0.0, 4.0))
    with pytest.raises(InputError, match=r"(?s)P1.*pred.nii.gz.*different grids.*origin"):
        compare_masks(moved, ref, "P1", "pred.nii.gz")


def test_summary_per_sequence_and_split(tmp_path: Path) -> None:
    metrics = pd.DataFrame({
        "patient_id": ["a", "b", "c", "d"], "site": "A",
        "split": ["internal_test", "internal_test", "external_test", "external_test"],
        "sequence": "t2w", "dice": [0.8, 0.9, 0.7, np.nan], "hd95_mm": [2.0, 4.0, 6.0, np.nan],
        "msd_mm": 1.0, "volume_diff_ml": 0.0, "volume_diff_pct": 0.0,
    })  # fmt: skip
    summary = summarise(metrics).set_index("split")
    assert summary.loc["internal_test", "dice_mean"] == pytest.approx(0.85)
    assert summary.loc["external_test", "n"] == 1
    assert summary.loc["external_test", "n_missing"] == 1
    assert summary.loc["all", "n"] == 3
    assert summary.loc["all", "hd95_mm_median"] == pytest.approx(4.0)
