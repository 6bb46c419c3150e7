"""Pipeline YAML: the shipped pipelines load, paths resolve, bad input names key and file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from radiopipe.config.pipeline import load_pipeline
from radiopipe.errors import ConfigError
from radiopipe.pipeline import build_stages

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


def write_pipeline(folder: Path, data: dict, name: str = "study.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data))
    return path


def minimal(manifest: str = "cohort/manifest.csv") -> dict:
    return {
        "name": "study",
        "cohort": {"manifest": manifest},
        "extract": {"params": str(CONFIGS / "extraction" / "fast.yaml")},
    }


def test_demo_pipeline_runs_every_stage_it_names():
    config = load_pipeline(REPO / "pipelines" / "demo.yaml")
    names = [s.name for s in build_stages(config)]
    assert names == ["cohort", "validate", "segment", "design", "extract", "robustness", "train",
                     "deep", "evaluate", "explain", "report", "bundle"]  # fmt: skip
    assert config.cohort.synth is not None and config.cohort.manifest is None
    # Relative paths are read relative to the pipeline file, not the working directory.
    assert config.extract.params == CONFIGS / "extraction" / "demo.yaml"
    assert config.robustness.params == config.extract.params  # defaults to extract's
    assert config.train.config == CONFIGS / "model" / "demo.yaml"  # fast.yaml + clinical


def test_study_pipeline_takes_a_manifest_from_the_command_line(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("patient_id,site,split,label\n")
    config = load_pipeline(REPO / "pipelines" / "hifu_fibroid.yaml", manifest=manifest)
    assert config.cohort.manifest == manifest.resolve()
    assert config.extract.params == CONFIGS / "extraction" / "paper.yaml"
    names = [s.name for s in build_stages(config)]
    # The V-Net model folder does not exist here: segmentation is skipped, not an error. No
    # preprocess stage: the paper's resampling and normalisation happen in extraction.
    assert names == ["cohort", "validate", "design", "extract", "robustness",
                     "train", "deep", "evaluate", "explain", "report", "bundle"]  # fmt: skip
    assert config.robustness.max_patients == 100  # the paper's ICC sample size


def test_study_pipeline_without_its_manifest_names_the_missing_file():
    with pytest.raises(ConfigError, match=r"hifu_fibroid.yaml.*\n.*cohort.manifest: .*manifest"):
        load_pipeline(REPO / "pipelines" / "hifu_fibroid.yaml")


def test_relative_paths_follow_the_pipeline_file(tmp_path):
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "manifest.csv").write_text("patient_id\n")
    elsewhere = tmp_path / "studies"
    elsewhere.mkdir()
    path = write_pipeline(elsewhere, minimal("../cohort/manifest.csv"))
    config = load_pipeline(path)
    assert config.cohort.manifest == (tmp_path / "cohort" / "manifest.csv").resolve()


def test_unknown_key_names_key_file_and_allowed_keys(tmp_path):
    data = minimal() | {"trian": {"config": "x.yaml"}}
    path = write_pipeline(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    text = str(err.value)
    assert "unknown key 'trian'" in text and str(path) in text and "train" in text


def test_wrong_type_and_both_cohort_sources_are_reported_together(tmp_path):
    data = minimal() | {"seed": "zero"}
    data["cohort"]["synth"] = {"sites": {"A": 4, "B": 4}}
    with pytest.raises(ConfigError) as err:
        load_pipeline(write_pipeline(tmp_path, data))
    text = str(err.value)
    assert "2 invalid setting(s)" in text
    assert "'seed'" in text and "exactly one of 'manifest'" in text


def test_every_missing_file_is_listed(tmp_path):
    data = minimal() | {"train": {"config": "nowhere/model.yaml"},
                        "deep": {"models": ["nowhere/cnn.yaml"]}}  # fmt: skip
    with pytest.raises(ConfigError) as err:
        load_pipeline(write_pipeline(tmp_path, data))
    text = str(err.value)
    for key in ("cohort.manifest", "train.config", "deep.models[0]"):
        assert key in text


def test_run_name_must_be_a_plain_folder_name(tmp_path):
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "manifest.csv").write_text("patient_id\n")
    data = minimal() | {"name": "../escape"}
    with pytest.raises(ConfigError, match="plain folder name"):
        load_pipeline(write_pipeline(tmp_path, data))


def test_dry_run_lists_stages(cli):
    result = cli("run", REPO / "pipelines" / "demo.yaml", "--dry-run")
    assert result.exit_code == 0
    assert "cohort -> validate -> segment -> design -> extract" in result.output.replace("\n", " ")


def test_unknown_stage_to_force_is_an_error(cli, tmp_path):
    result = cli("run", REPO / "pipelines" / "demo.yaml", "--out", tmp_path, "--force", "trian")
    assert result.exit_code == 2
    assert "unknown stage(s) to --force: trian" in result.output


def test_dry_run_catches_a_typo_in_the_pyradiomics_parameter_file(cli, tmp_path):
    params = yaml.safe_load((CONFIGS / "extraction" / "fast.yaml").read_text(encoding="utf-8"))
    params["setting"]["binWdith"] = 25  # typo of binWidth
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "manifest.csv").write_text("patient_id\n")
    data = minimal() | {"extract": {"params": "params.yaml"}}
    result = cli("run", write_pipeline(tmp_path, data), "--dry-run")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "extract.params" in text and "binWdith" in text


def test_dry_run_catches_an_error_in_a_stage_config_file(cli, tmp_path):
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "manifest.csv").write_text("patient_id\n")
    (tmp_path / "model.yaml").write_text("cv: {outer_fold: 3}\n")
    data = minimal() | {"train": {"config": "model.yaml"}}
    result = cli("run", write_pipeline(tmp_path, data), "--dry-run")
    assert result.exit_code == 2 and "outer_fold" in result.output


def test_fusion_must_name_a_deep_model_of_the_pipeline(tmp_path):
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "manifest.csv").write_text("patient_id\n")
    data = minimal() | {"train": {"fusion": "densenet"}}
    with pytest.raises(ConfigError, match="no deep section"):
        load_pipeline(write_pipeline(tmp_path, data))
    data["deep"] = {"models": [str(CONFIGS / "deep" / "tiny_vit.yaml")]}
    with pytest.raises(ConfigError, match="not a deep model of this pipeline"):
        build_stages(load_pipeline(write_pipeline(tmp_path, data)))


def test_demo_model_settings_are_fast_yaml_plus_the_clinical_block():
    import yaml

    demo = yaml.safe_load((CONFIGS / "model" / "demo.yaml").read_text(encoding="utf-8"))
    fast = yaml.safe_load((CONFIGS / "model" / "fast.yaml").read_text(encoding="utf-8"))
    assert demo.pop("clinical")["covariates"]
    assert demo == fast  # a change to fast.yaml must be made in demo.yaml too
