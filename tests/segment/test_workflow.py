"""segment train / predict / evaluate through the CLI on a phantom cohort (tiny network)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import SimpleITK as sitk
import torch
import yaml

from radiopipe.cohort import read_manifest
from radiopipe.segment import model_folder as ckpt
from radiopipe.torchrun.checkpoint import load_tensors

from .conftest import SPLITS
from .conftest import phantom_settings as _settings

REPO = Path(__file__).resolve().parents[2]


def _weights(folder: Path, name: str) -> dict[str, torch.Tensor]:
    return load_tensors(folder / name / ckpt.CHECKPOINT_FILE)["model"]


def test_training_uses_only_the_train_split(trained) -> None:
    division = pd.read_csv(trained["model"] / ckpt.DIVISION_FILE)
    table = pd.read_csv(trained["manifest"])
    train_ids = set(table.loc[table["split"] == "train", "patient_id"])
    assert set(division["patient_id"]) == train_ids
    assert division["role"].value_counts().to_dict() == {"train": 4, "validation": 1}
    _config, card = ckpt.read_model_folder(trained["model"])
    assert set(card["models"]) == {"t2w", "cet1w"}
    assert all(m["done"] and m["stop_reason"] == "max_epochs" for m in card["models"].values())
    history = pd.read_csv(trained["model"] / "t2w" / ckpt.HISTORY_FILE)
    assert list(history["epoch"]) == [1, 2] and history["val_dice"].between(0, 1).all()


def test_stop_and_resume_continues_and_matches_an_uninterrupted_run(trained, cli, tmp_path):
    args = ["segment", "train", "--manifest", trained["manifest"], "--config",
            trained["config"], "--out", tmp_path / "m"]  # fmt: skip
    first = cli(*args, "--stop-after", "1")
    assert first.exit_code == 0 and "paused" in first.output
    assert load_tensors(tmp_path / "m" / "t2w" / ckpt.CHECKPOINT_FILE)["epoch"] == 1
    refused = cli(*args)
    assert refused.exit_code == 2 and "--resume" in refused.output
    resumed = cli(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    history = pd.read_csv(tmp_path / "m" / "cet1w" / ckpt.HISTORY_FILE)
    assert list(history["epoch"]) == [1, 2]  # continued, not restarted
    for name in ("t2w", "cet1w"):
        a, b = _weights(tmp_path / "m", name), _weights(trained["model"], name)
        assert all(torch.equal(a[k], b[k]) for k in a), f"{name}: resumed run differs"


def test_resume_with_other_settings_is_refused(trained, cli, tmp_path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(_settings(learning_rate=0.01)))
    result = cli("segment", "train", "--manifest", trained["manifest"], "--config", other,
                 "--out", trained["model"], "--resume")  # fmt: skip
    assert result.exit_code == 2 and "differs" in result.output


@pytest.mark.slow
def test_killed_training_resumes_after_the_last_saved_epoch(trained, cli, tmp_path) -> None:
    """SIGKILL a real training process mid-run; --resume continues from its checkpoint."""
    config = tmp_path / "long.yaml"
    config.write_text(yaml.safe_dump({**_settings(max_epochs=50), "sequences": ["t2w"]}))
    out = tmp_path / "m"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "radiopipe", "segment", "train", "--manifest",
         str(trained["manifest"]), "--config", str(config), "--out", str(out)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    checkpoint = out / "t2w" / ckpt.CHECKPOINT_FILE
    deadline = time.monotonic() + 120
    try:
        while not checkpoint.exists() and time.monotonic() < deadline:
            assert process.poll() is None, "training exited before its first checkpoint"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    saved = load_tensors(checkpoint)["epoch"]
    assert 1 <= saved < 50
    result = cli("segment", "train", "--manifest", trained["manifest"], "--config", config,
                 "--out", out, "--resume", "--stop-after", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r["epoch"] for r in load_tensors(checkpoint)["history"]] == list(range(1, saved + 2))


def test_predict_writes_masks_in_original_geometry_manifest_and_qc(trained, cli, tmp_path):
    out = tmp_path / "pred"
    result = cli("segment", "predict", "--model", trained["model"], "--manifest",
                 trained["manifest"], "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    source = read_manifest(trained["manifest"])
    predicted = read_manifest(out / "manifest.csv")
    assert predicted.patients == source.patients
    for patient in source.patients:
        for sequence in ("t2w", "cet1w"):
            mask_path = predicted.mask_path(patient, sequence)
            assert mask_path.parent == (out / "masks").resolve()
            assert predicted.mask_path(patient, sequence, second=True) == source.mask_path(
                patient, sequence
            )
            mask = sitk.ReadImage(str(mask_path))
            image = sitk.ReadImage(str(source.image_path(patient, sequence)))
            assert mask.GetSize() == image.GetSize()
            assert mask.GetSpacing() == pytest.approx(image.GetSpacing())
            assert mask.GetOrigin() == pytest.approx(image.GetOrigin())
            assert set(sitk.GetArrayFromImage(mask).ravel()) <= {0, 1}
    qc = pd.read_csv(out / "qc.csv")
    assert len(qc) == 2 * len(source.patients)
    for column in ("volume_ml", "tta_agreement", "empty", "tiny", "touches_border",
                   "low_confidence", "flags", "passed", "split"):  # fmt: skip
        assert column in qc.columns
    assert qc["tta_agreement"].between(0, 1).all()
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["stage"] == "segment" and provenance["complete"]
    assert provenance["inputs"]["model_card"]["path"].endswith("segmentation_model.json")
    assert provenance["reused"] == 0 and provenance["patients"] == len(source.patients)
    assert (out / ".stages" / "segment.json").is_file()  # the engine's up-to-date marker


def test_predict_again_is_up_to_date_and_a_changed_input_reuses_the_unchanged(
    trained, cli, tmp_path
) -> None:
    """Same manifest, model and flags: nothing runs. One image changed: only it is redone."""
    out = tmp_path / "pred"
    args = ["segment", "predict", "--model", trained["model"], "--out", out]
    assert cli(*args, "--manifest", trained["manifest"]).exit_code == 0
    source = read_manifest(trained["manifest"])
    masks = sorted((out / "masks").iterdir())
    stamps = [m.stat().st_mtime_ns for m in masks]
    again = cli(*args, "--manifest", trained["manifest"])
    assert again.exit_code == 0 and "up to date" in again.output and "segmented" not in again.output
    assert [m.stat().st_mtime_ns for m in masks] == stamps
    # One patient's T2 image changes (a copy, brighter): the stage re-runs, the others reuse
    first = source.patients[0]
    image = sitk.ReadImage(str(source.image_path(first, "t2w")))
    changed = trained["manifest"].parent / "images" / f"{first}_t2w_brighter.nii.gz"
    sitk.WriteImage(image * 1.1, str(changed))
    table = pd.read_csv(trained["manifest"], dtype=str, keep_default_na=False)
    table.loc[table["patient_id"] == first, "image_t2w"] = f"images/{changed.name}"
    manifest = trained["manifest"].parent / "changed.csv"
    table.to_csv(manifest, index=False)
    rerun = cli(*args, "--manifest", manifest)
    assert rerun.exit_code == 0, rerun.output
    n = len(source.patients)
    assert f"segmented {n}/{n} patients ({n - 1} reused)" in rerun.output
    redone = {m.name for m in masks if m.stat().st_mtime_ns != stamps[masks.index(m)]}
    assert redone == {f"{first}_t2w.nii.gz", f"{first}_cet1w.nii.gz"}


def test_predict_isolates_a_broken_patient(trained, cli, tmp_path) -> None:
    table = pd.read_csv(trained["manifest"], dtype=str, keep_default_na=False)
    table.loc[2, "image_t2w"] = "images/missing.nii.gz"
    manifest = trained["manifest"].parent / "broken.csv"
    table.to_csv(manifest, index=False)
    args = ["segment", "predict", "--model", trained["model"], "--manifest", manifest,
            "--split", "train", "--out", tmp_path / "p"]  # fmt: skip
    result = cli(*args)
    assert result.exit_code == 1 and "missing.nii.gz" in result.output
    failures = pd.read_csv(tmp_path / "p" / "failures.csv")
    assert list(failures["patient_id"]) == ["P002"] and "does not exist" in failures["error"][0]
    written = read_manifest(tmp_path / "p" / "manifest.csv")
    assert written.mask_path("P002", "t2w") is None and written.mask_path("P001", "t2w")
    assert cli(*args, "--allow-failures").exit_code == 0


def test_predict_refuses_an_unfinished_model_folder(trained, cli, tmp_path) -> None:
    args = ["segment", "train", "--manifest", trained["manifest"], "--config",
            trained["config"], "--out", tmp_path / "m", "--stop-after", "1"]  # fmt: skip
    assert cli(*args).exit_code == 0
    result = cli("segment", "predict", "--model", tmp_path / "m", "--manifest",
                 trained["manifest"], "--out", tmp_path / "p")  # fmt: skip
    assert result.exit_code == 2 and "incomplete" in result.output


def test_evaluate_writes_metrics_summary_and_overlays(trained, cli, tmp_path) -> None:
    pred = tmp_path / "pred"
    assert cli("segment", "predict", "--model", trained["model"], "--manifest",
               trained["manifest"], "--out", pred).exit_code == 0  # fmt: skip
    result = cli("segment", "evaluate", "--manifest", pred / "manifest.csv", "--out",
                 tmp_path / "eval", "--overlays", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(tmp_path / "eval" / "segmentation_metrics.csv")
    assert len(metrics) == 2 * sum(SPLITS.values())
    assert metrics["dice"].between(0, 1).all()
    summary = yaml.safe_load(
        (tmp_path / "eval" / "segmentation_summary.json").read_text(encoding="utf-8")
    )
    assert set(summary) == {"t2w", "cet1w"}
    assert set(summary["t2w"]) == {"all", *SPLITS}
    assert summary["t2w"]["all"]["n"] == sum(SPLITS.values())
    for sequence in ("t2w", "cet1w"):
        assert (tmp_path / "eval" / f"overlays_{sequence}.png").stat().st_size > 10_000
    # References against themselves: perfect agreement.
    same = cli("segment", "evaluate", "--manifest", trained["manifest"], "--reference",
               trained["manifest"], "--out", tmp_path / "same", "--overlays", "0")  # fmt: skip
    perfect = pd.read_csv(tmp_path / "same" / "segmentation_metrics.csv")
    assert same.exit_code == 0 and (perfect["dice"] == 1.0).all()
    assert (perfect["hd95_mm"] == 0.0).all() and (perfect["volume_diff_ml"] == 0.0).all()


def test_channels_mode_writes_a_mask_per_sequence_on_its_own_grid(trained, tmp_path) -> None:
    """One model on T2 + CE-T1 (CE-T1 resampled onto T2); masks come back on both grids."""
    from radiopipe.config import parse_config
    from radiopipe.config.segmentation import SegmentationConfig
    from radiopipe.segment.predict import predict
    from radiopipe.segment.runner import train

    settings = parse_config({**_settings(max_epochs=1), "mode": "channels"}, SegmentationConfig)
    cohort = read_manifest(trained["manifest"])
    states = train(cohort, settings, tmp_path / "m", show_progress=False)
    assert list(states) == ["multichannel"] and states["multichannel"].done
    weights = load_tensors(tmp_path / "m" / "multichannel" / ckpt.WEIGHTS_FILE)
    assert weights["stem.conv.weight"].shape[1] == 2  # two input channels
    held_out = cohort.subset(split="internal_test")
    result = predict(held_out, tmp_path / "m", tmp_path / "p", show_progress=False)
    assert sorted(result.qc["sequence"]) == ["cet1w", "cet1w", "t2w", "t2w"]
    written = read_manifest(result.manifest)
    for patient in held_out.patients:
        for sequence in ("t2w", "cet1w"):
            mask = sitk.ReadImage(str(written.mask_path(patient, sequence)))
            image = sitk.ReadImage(str(held_out.image_path(patient, sequence)))
            assert mask.GetSize() == image.GetSize()
            assert mask.GetOrigin() == pytest.approx(image.GetOrigin())


def test_early_stopping_ends_training_without_improvement(trained, tmp_path) -> None:
    from radiopipe.config import parse_config
    from radiopipe.config.segmentation import SegmentationConfig
    from radiopipe.segment.runner import train

    # No validation Dice can improve on the first by more than 1.0, so training stops after
    # `patience` epochs of no improvement, long before max_epochs.
    settings = parse_config(
        {**_settings(max_epochs=20, patience=2, min_delta=1.0), "sequences": ["t2w"]},
        SegmentationConfig,
    )
    state = train(read_manifest(trained["manifest"]), settings, tmp_path / "m",
                  show_progress=False)["t2w"]  # fmt: skip
    assert state.done and state.stop_reason == "early_stopping"
    assert state.epoch == 3 and state.best_epoch == 1  # the first validation is the best
    assert (tmp_path / "m" / "t2w" / ckpt.WEIGHTS_FILE).is_file()
