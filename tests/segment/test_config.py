"""Segmentation settings: shipped YAML files load; bad keys and values are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from radiopipe.config import load_config, parse_config
from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "segmentation"


@pytest.mark.parametrize("name", ["vnet.yaml", "tiny.yaml"])
def test_shipped_configs_load(name: str) -> None:
    config = load_config(CONFIGS / name, SegmentationConfig)
    assert config.sequences == ["t2w", "cet1w"]
    assert config.model_names() == ["t2w", "cet1w"]
    assert config.model_inputs("cet1w") == ["cet1w"]


def test_default_config_follows_the_study() -> None:
    config = load_config(CONFIGS / "vnet.yaml", SegmentationConfig)
    assert config.network.deep_supervision and config.network.depth == 4  # 3 aux + main
    assert config.mode == "per_sequence"
    assert config.train.amp


def test_channels_mode_trains_one_model_on_all_sequences() -> None:
    config = parse_config({"mode": "channels"}, SegmentationConfig)
    assert config.model_names() == ["multichannel"]
    assert config.model_inputs("multichannel") == ["t2w", "cet1w"]


def test_unknown_key_names_key_file_and_allowed_keys(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  epochs: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, SegmentationConfig)
    message = str(err.value)
    assert "train.epochs" in message and str(path) in message and "max_epochs" in message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"train": {"patch_size": [96, 96, 20]}}, "divisible by 16"),
        ({"inference": {"tta_flips": [[3]]}}, "axes 0-2"),
        ({"sequences": ["T2W"]}, "lower-case"),
        ({"sequences": ["t2w", "t2w"]}, "repeat"),
        ({"data": {"spacing_mm": [1, 0, 1]}}, "> 0 mm"),
        ({"data": {"orientation": "RAA"}}, "axis codes"),
        ({"mode": "both"}, "allowed values"),
    ],
)
def test_invalid_values_are_rejected(data: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_config(data, SegmentationConfig)
