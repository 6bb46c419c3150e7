"""``segment_cohort``: the segmentation stage as ``radiopipe run`` calls it; progress display."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import SimpleITK as sitk
from rich.console import Console

from radiopipe.cohort import read_manifest
from radiopipe.config import parse_config
from radiopipe.config.segmentation import SegmentationConfig, SegmentStageSettings
from radiopipe.errors import ConfigError, RadiopipeError
from radiopipe.segment.model_folder import CARD_FILE
from radiopipe.segment.stage import segment_cohort

from .conftest import phantom_settings

HELD_OUT = ["internal_test", "external_test"]


def test_stage_writes_masks_manifest_qc_and_scores_then_reuses_them(trained, tmp_path) -> None:
    settings = SegmentStageSettings(splits=HELD_OUT, overlays=1, device="cpu")
    stage = segment_cohort(trained["manifest"], trained["model"], tmp_path / "seg", settings,
                           show_progress=False)  # fmt: skip
    source = read_manifest(trained["manifest"])
    held_out = [p for p in source.patients if source.row(p)["split"] in HELD_OUT]
    written = read_manifest(stage.manifest)
    assert stage.manifest == tmp_path / "seg" / "manifest.csv"
    assert written.patients == held_out and stage.failures.empty and stage.reused == 0
    for patient in held_out:
        for sequence in ("t2w", "cet1w"):
            mask = written.mask_path(patient, sequence)
            assert mask.parent == (tmp_path / "seg" / "masks").resolve()
            image = sitk.ReadImage(str(source.image_path(patient, sequence)))
            assert sitk.ReadImage(str(mask)).GetSize() == image.GetSize()
            assert written.mask_path(patient, sequence, second=True) == source.mask_path(
                patient, sequence
            )
    qc = pd.read_csv(tmp_path / "seg" / "qc.csv")
    assert len(qc) == 2 * len(held_out) and set(qc["split"]) == set(HELD_OUT)
    evaluation = tmp_path / "seg" / "evaluation"
    metrics = pd.read_csv(evaluation / "segmentation_metrics.csv")
    assert len(metrics) == 2 * len(held_out) and metrics["dice"].between(0, 1).all()
    assert (evaluation / "segmentation_summary.json").is_file()
    assert (evaluation / "overlays_t2w.png").stat().st_size > 5_000
    table = stage.table
    assert len(table) == 2 * len(held_out)
    assert {"flags", "passed", "tta_agreement", "dice", "hd95_mm"} <= set(table.columns)
    assert table["dice"].tolist() == pytest.approx(
        metrics.set_index(["patient_id", "sequence"])
        .loc[list(zip(table["patient_id"], table["sequence"], strict=True)), "dice"]
        .tolist()
    )
    again = segment_cohort(trained["manifest"], trained["model"] / CARD_FILE, tmp_path / "seg",
                           settings, show_progress=False)  # fmt: skip
    assert again.reused == len(held_out)
    assert again.table["dice"].tolist() == pytest.approx(table["dice"].tolist())


def test_stage_without_reference_masks_skips_scoring(trained, tmp_path) -> None:
    table = pd.read_csv(trained["manifest"], dtype=str, keep_default_na=False)
    table = table[table["split"] == "internal_test"].drop(columns=["mask_t2w", "mask_cet1w"])
    manifest = trained["manifest"].parent / "unlabelled.csv"
    table.to_csv(manifest, index=False)
    stage = segment_cohort(manifest, trained["model"], tmp_path / "seg", show_progress=False)
    written = read_manifest(stage.manifest)
    assert stage.evaluation is None and not (tmp_path / "seg" / "evaluation").exists()
    assert "mask2_t2w" not in written.table.columns
    assert all(written.mask_path(p, "cet1w").is_file() for p in written.patients)
    assert "dice" not in stage.table.columns and len(stage.table) == 2 * len(table)


def test_stage_refuses_a_missing_model_and_an_empty_selection(trained, tmp_path) -> None:
    with pytest.raises(RadiopipeError, match="not a trained segmentation model"):
        segment_cohort(trained["manifest"], tmp_path, tmp_path / "seg")
    with pytest.raises(RadiopipeError, match="no patient in split"):
        segment_cohort(trained["manifest"], trained["model"], tmp_path / "seg",
                       SegmentStageSettings(splits=[""]))  # fmt: skip
    with pytest.raises(ConfigError, match="splits"):
        parse_config({"splits": ["test"]}, SegmentStageSettings)


def test_training_progress_shows_loss_and_validation_dice(trained, tmp_path, monkeypatch):
    from radiopipe import progress
    from radiopipe.segment.runner import train

    screen = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=screen, width=200, force_terminal=True))
    settings = parse_config({**phantom_settings(max_epochs=1), "sequences": ["t2w"]},
                            SegmentationConfig)  # fmt: skip
    train(read_manifest(trained["manifest"]), settings, tmp_path / "m", show_progress=True)
    shown = screen.getvalue()
    assert "V-Net t2w" in shown and "1/1" in shown
    assert "loss " in shown and " dice " in shown and " best " in shown
