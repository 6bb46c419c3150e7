"""The model bundle end to end: a tiny study ends with ``bundle/``; ``radiopipe predict`` scores
new patients from their images (the run's external patients reproduce the run's predictions;
a one-patient new centre is segmented by the bundle's V-Net) and refuses features made with
other settings; a tampered bundle is refused naming the file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from radiopipe.bundle.checksums import BundleError
from radiopipe.bundle.loader import load_bundle
from radiopipe.cohort.manifest import read_manifest, write_manifest
from radiopipe.contracts import RunLayout, Split, check_predictions

REPO = Path(__file__).resolve().parents[2]
PARAMS = {
    "imageType": {"Original": {}},
    "featureClass": {"shape": None, "firstorder": None},
    "setting": {"binWidth": 25, "resampledPixelSpacing": [3, 3, 3], "label": 1},
}
MODEL = {
    "seed": 1,
    "cv": {"outer_folds": 3, "inner_folds": 3},
    "lasso": {"n_strengths": 4},
    "learners": {"names": ["svm"], "n_trials": 1, "timeout_s": 20.0},
    "harmonise": {"min_site_size": 5, "sensitivity": False},
}
STAGES = ("cohort", "validate", "design", "extract", "train", "bundle")


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A tiny three-centre study (C external, 6 patients) run up to its bundle."""
    from radiopipe.config.pipeline import load_pipeline
    from radiopipe.pipeline.engine import run_stages
    from radiopipe.pipeline.graph import build_stages
    from radiopipe.runs import RunFolder

    folder = tmp_path_factory.mktemp("bundle-study")
    (folder / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    (folder / "model.yaml").write_text(yaml.safe_dump(MODEL))
    pipeline = {
        "name": "tiny",
        "seed": 3,
        "cohort": {"synth": {"sites": {"A": 14, "B": 12, "C": 6}, "external_sites": ["C"],
                             "size": "tiny", "effect_size": 4.0}},
        "extract": {"params": "params.yaml", "execution": {"workers": 0}},
        "train": {"config": "model.yaml"},
    }  # fmt: skip
    (folder / "study.yaml").write_text(yaml.safe_dump(pipeline))
    stages = [s for s in build_stages(load_pipeline(folder / "study.yaml")) if s.name in STAGES]
    assert [s.name for s in stages] == list(STAGES)  # the bundle is the run's last stage
    run_stages(stages, RunFolder.at(folder / "run"))
    return folder / "run"


def _external_manifest(run: Path, out: Path) -> Path:
    cohort = read_manifest(RunLayout(run).cohort.manifest)
    return write_manifest(cohort.subset(split=Split.EXTERNAL_TEST), out / "new.csv")


@pytest.mark.slow
def test_run_bundle_reproduces_the_run_from_images_and_refuses_other_settings(study, tmp_path, cli):
    bundle = RunLayout(study).bundle
    card = json.loads(bundle.card.read_text(encoding="utf-8"))
    assert card["sequences"] == ["t2w", "cet1w"] and not card["segmentation"]
    assert yaml.safe_load(bundle.params.read_text(encoding="utf-8")) == PARAMS
    assert not list(bundle.folder.rglob("*.pkl")) and not list(bundle.folder.rglob("*.pickle"))
    combat = pd.read_csv(bundle.combat)
    assert set(combat["site"]) == {"A", "B"} and combat["delta"].gt(0).all()
    model_card = json.loads(bundle.model_card.read_text(encoding="utf-8"))
    assert model_card["data"]["training_sites"] == ["A", "B"]
    assert "Intended use" in bundle.model_card_md.read_text(encoding="utf-8")

    manifest = _external_manifest(study, tmp_path)
    out = tmp_path / "scored"
    result = cli("predict", "--bundle", bundle.folder, "--manifest", manifest, "--out", out,
                 "--no-report")  # fmt: skip
    assert result.exit_code == 0, result.output
    new = check_predictions(pd.read_parquet(out / "predictions.parquet"))
    run = pd.read_parquet(RunLayout(study).train.predictions)
    run = run[run["split"] == Split.EXTERNAL_TEST]
    both = run.merge(new, on=["patient_id", "model"], suffixes=("_run", "_new"))
    assert len(both) == len(run) == len(new) == 6 * len(card["models"])
    np.testing.assert_allclose(both["probability_new"], both["probability_run"], rtol=0, atol=1e-9)
    thresholds = json.loads(RunLayout(study).train.thresholds.read_text(encoding="utf-8"))
    expected = np.where(new["probability"] >= new["model"].map(thresholds), "high", "low")
    assert new["risk_group"].tolist() == expected.tolist()
    assert set(new["unseen_site_policy"]) == {"estimate"} and set(new["qc_flags"]) == {""}
    assert pd.read_parquet(out / "features.parquet")["patient_id"].tolist() == sorted(
        set(new["patient_id"])
    )
    _feature_table_of_other_settings_is_refused(bundle.folder, manifest, tmp_path, cli)
    _tampered_bundle_is_refused(bundle.folder, tmp_path)
    exported = cli("export", "--run", study, "--out", tmp_path / "exported")
    assert exported.exit_code == 0, exported.output
    assert (
        load_bundle(tmp_path / "exported").model.features
        == load_bundle(bundle.folder).model.features
    )


def _feature_table_of_other_settings_is_refused(bundle, manifest, tmp_path, cli):
    from radiopipe.features.stage import extract_features

    other = PARAMS | {"setting": PARAMS["setting"] | {"binWidth": 10}}
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    settings = {"params": str(tmp_path / "other.yaml"), "execution": {"workers": 0}}
    extract_features(manifest, settings, tmp_path / "other", show_progress=False)
    table = tmp_path / "other" / "features.parquet"
    args = ["predict", "--bundle", bundle, "--features", table, "--manifest", manifest,
            "--no-report"]  # fmt: skip
    refused = cli(*args, "--out", tmp_path / "refused")
    assert refused.exit_code == 2
    assert "settings hash" in refused.output and "--allow-settings-mismatch" in refused.output
    assert not (tmp_path / "refused" / "predictions.parquet").exists()
    allowed = cli(*args, "--out", tmp_path / "allowed", "--allow-settings-mismatch")
    assert allowed.exit_code == 0, allowed.output
    assert len(pd.read_parquet(tmp_path / "allowed" / "predictions.parquet")) > 0


def _tampered_bundle_is_refused(bundle, tmp_path):
    import shutil

    copy = tmp_path / "tampered"
    shutil.copytree(bundle, copy)
    thresholds = copy / "thresholds.json"
    thresholds.write_text(thresholds.read_text(encoding="utf-8").replace("0.", "0.0", 1))
    with pytest.raises(BundleError, match=r"thresholds.json: file differs"):
        load_bundle(copy)


def _tiny_vnet(manifest: Path, out: Path) -> Path:
    """configs/segmentation/tiny.yaml for one short epoch on six training patients."""
    from radiopipe.config import parse_config
    from radiopipe.config.segmentation import SegmentationConfig
    from radiopipe.segment.runner import train

    config = yaml.safe_load(
        (REPO / "configs" / "segmentation" / "tiny.yaml").read_text(encoding="utf-8")
    )
    config["train"] |= {"max_epochs": 1, "patches_per_volume": 1}
    config["inference"]["tta_flips"] = []
    cohort = read_manifest(manifest)
    six = cohort.table.loc[cohort.table["split"] == Split.TRAIN, "patient_id"].head(6).tolist()
    train(cohort.subset(patients=six), parse_config(config, SegmentationConfig), out,
          device="cpu", show_progress=False)  # fmt: skip
    return out


@pytest.mark.slow
def test_new_centre_patient_without_mask_is_segmented_by_the_bundle_vnet(study, tmp_path, cli):
    from radiopipe.bundle.sources import sources_from_run
    from radiopipe.bundle.writer import write_bundle
    from radiopipe.synth import generate_cohort

    vnet = _tiny_vnet(RunLayout(study).cohort.manifest, tmp_path / "vnet")
    sources = dataclasses.replace(sources_from_run(study), segmentation=vnet)
    bundle = write_bundle(sources, tmp_path / "bundle")
    assert list(bundle.glob("segmentation/*/weights.npz")) and not list(bundle.rglob("*.pt"))

    # another seed, another centre: one patient without masks, one whose mask is one voxel
    new = generate_cohort(tmp_path / "new", sites={"Z": 2}, size="tiny", seed=11, workers=1)
    table = read_manifest(new).table
    for column in [c for c in table.columns if c.startswith("mask")]:
        table.loc[0, column] = ""
    one_voxel = sitk.ReadImage(table.loc[1, "mask_t2w"])
    array = np.zeros(sitk.GetArrayFromImage(one_voxel).shape, np.uint8)
    array[tuple(s // 2 for s in array.shape)] = 1
    spot = sitk.GetImageFromArray(array)
    spot.CopyInformation(one_voxel)
    sitk.WriteImage(spot, str(tmp_path / "spot.nii.gz"))
    table.loc[1, "mask_t2w"] = str(tmp_path / "spot.nii.gz")
    manifest = write_manifest(table, tmp_path / "new.csv")

    out = tmp_path / "scored"
    result = cli("predict", "--bundle", bundle, "--manifest", manifest, "--out", out,
                 "--unseen-site", "passthrough", "--device", "cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    predictions = check_predictions(pd.read_parquet(out / "predictions.parquet"))
    assert set(predictions["patient_id"]) == {"Z-0001"}
    assert set(predictions["unseen_site_policy"]) == {"passthrough"}
    assert set(predictions["risk_group"]) <= {"high", "low"}
    qc = pd.read_csv(out / "work" / "segment" / "qc.csv")
    assert set(qc["patient_id"]) == {"Z-0001"} and qc["passed"].all()  # segmented, QC passed
    not_scored = pd.read_csv(out / "not_scored.csv")
    assert not_scored[["patient_id", "step", "sequence"]].values.tolist() == [
        ["Z-0002", "extract", "t2w"]
    ]
    assert "Z-0002 (extract)" in result.output  # listed with its reason, not dropped silently
    html = (out / "reports" / "Z-0001.html").read_text(encoding="utf-8")
    assert "risk group" in html and "passthrough" in html and "data:image/png" in html
    assert (out / "reports" / "Z-0001.pdf").read_bytes()[:4] == b"%PDF"
    _qc_fails_for_every_automatic_mask(sources, vnet, manifest, tmp_path)


def _qc_fails_for_every_automatic_mask(sources, vnet: Path, manifest: Path, tmp_path: Path):
    """The same V-Net with an impossible minimum volume: every automatic mask is 'tiny'."""
    import shutil

    from radiopipe.bundle.predict import predict_images
    from radiopipe.bundle.writer import write_bundle

    strict = tmp_path / "vnet_strict"
    shutil.copytree(vnet, strict)
    config = yaml.safe_load((strict / "config.resolved.yaml").read_text(encoding="utf-8"))
    config["qc"]["min_volume_ml"] = 1e6
    (strict / "config.resolved.yaml").write_text(yaml.safe_dump(config))
    bundle = write_bundle(dataclasses.replace(sources, segmentation=strict), tmp_path / "strict")
    result = predict_images(bundle, manifest, tmp_path / "strict_scored", "passthrough",
                            device="cpu", reports=False)  # fmt: skip
    assert result.predictions.empty
    rows = result.not_scored.query("patient_id == 'Z-0001'")
    assert rows[["step", "sequence"]].values.tolist() == [
        ["segmentation_qc", "t2w"], ["segmentation_qc", "cet1w"]
    ]  # fmt: skip
    assert rows["reason"].str.contains("failed QC (tiny)", regex=False).all()
