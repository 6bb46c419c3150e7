"""A pipeline with a segment stage that trains the V-Net in the run (``segment.train``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from radiopipe.config.pipeline import load_pipeline
from radiopipe.errors import ConfigError
from radiopipe.pipeline.engine import run_stages
from radiopipe.pipeline.graph import build_stages
from radiopipe.runs import RunFolder

REPO = Path(__file__).resolve().parents[2]
PARAMS = {
    "imageType": {"Original": {}},
    "featureClass": {"shape": None, "firstorder": None},
    "setting": {"binWidth": 25, "resampledPixelSpacing": [3, 3, 3], "label": 1},
}


def segmentation_config() -> dict:
    """configs/segmentation/tiny.yaml cut to one short epoch (a test of the plumbing)."""
    config = yaml.safe_load(
        (REPO / "configs" / "segmentation" / "tiny.yaml").read_text(encoding="utf-8")
    )
    config["train"] |= {"max_epochs": 1, "patches_per_volume": 1}
    config["inference"]["tta_flips"] = []
    return config


def write_study(folder: Path) -> Path:
    (folder / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    (folder / "seg.yaml").write_text(yaml.safe_dump(segmentation_config()))
    study = {
        "name": "seg",
        "seed": 0,
        "cohort": {"synth": {"sites": {"A": 6, "B": 3}, "external_sites": ["B"], "size": "tiny"}},
        "segment": {"train": "seg.yaml", "settings": {"overlays": 2}},
        "extract": {"params": "params.yaml", "execution": {"workers": 0}},
        "robustness": {"execution": {"workers": 0}},
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


@pytest.mark.slow
def test_segment_stage_trains_segments_and_feeds_extract_and_robustness(tmp_path):
    config = load_pipeline(write_study(tmp_path))
    stages = build_stages(config)
    names = [s.name for s in stages]
    assert names[:6] == ["cohort", "validate", "segment", "design", "extract", "robustness"]
    run = RunFolder.at(tmp_path / "run")
    # design needs more patients than this; extract and robustness do not read it
    run_stages([s for s in stages[:6] if s.name != "design"], run)
    segment = tmp_path / "run" / "segment"
    assert (segment / "model" / "segmentation_model.json").is_file()
    division = pd.read_csv(segment / "model" / "division.csv", dtype=str)
    assert set(division["patient_id"]) <= {f"A-{i:04d}" for i in range(1, 7)}  # training only
    manifest = pd.read_csv(segment / "manifest.csv", dtype=str)
    assert len(manifest) == 9  # every patient is segmented, test patients included
    folders = {  # paths in a manifest are relative to its folder
        column: {(segment / p).resolve().parent for p in manifest[column]}
        for column in manifest.columns
        if column.startswith("mask")
    }
    for seq in ("t2w", "cet1w"):
        assert folders[f"mask_{seq}"] == {(segment / "masks").resolve()}  # automatic
        assert folders[f"mask2_{seq}"] == {(tmp_path / "run" / "cohort" / "masks").resolve()}
    assert (segment / "truth.csv").is_file()  # the known answer follows the manifest
    summary = pd.read_csv(segment / "evaluation" / "segmentation_summary.csv")
    assert {"dice_mean", "hd95_mm_mean"} <= set(summary.columns)
    assert list((segment / "evaluation").glob("overlays_*.png"))
    features = pd.read_parquet(tmp_path / "run" / "extract" / "features.parquet")
    assert len(features) == 9
    icc = pd.read_parquet(tmp_path / "run" / "robustness" / "icc.parquet")
    assert len(icc) > 0  # automatic vs reference masks


def test_segment_step_needs_a_model_or_a_training_config(tmp_path):
    path = write_study(tmp_path)
    study = yaml.safe_load(path.read_text(encoding="utf-8"))
    study["segment"] = {"settings": {"overlays": 0}}
    path.write_text(yaml.safe_dump(study))
    with pytest.raises(ConfigError, match=r"exactly one of 'model'.*or 'train'"):
        load_pipeline(path)
    study["segment"] = {"train": "missing.yaml"}
    path.write_text(yaml.safe_dump(study))
    with pytest.raises(ConfigError, match=r"segment.train: .*missing.yaml"):
        load_pipeline(path)
