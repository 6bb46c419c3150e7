from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from radiopipe.config import load_config
from radiopipe.config.deep import DeepConfig
from radiopipe.deep.networks import build_network, count_parameters
from radiopipe.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "deep"


@pytest.mark.parametrize(
    ("name", "model", "architecture"),
    [
        ("densenet.yaml", "densenet", "densenet"),
        ("resnet.yaml", "resnet", "resnet"),
        ("vit.yaml", "vit", "vit"),
        ("tiny_cnn.yaml", "densenet", "densenet"),
        ("tiny_vit.yaml", "vit", "vit"),
        ("demo_cnn.yaml", "densenet", "densenet"),
        ("demo_vit.yaml", "vit", "vit"),
    ],
)
def test_shipped_configs_load_and_build(name: str, model: str, architecture: str) -> None:
    config = load_config(CONFIGS / name, DeepConfig)
    assert config.model_name == model and config.network.architecture == architecture
    assert config.crop.sequences == ("t2w", "cet1w") and config.crop.channels == 2
    if name.startswith(("tiny", "demo")):
        assert count_parameters(build_network(config.network, config.crop)) < 100_000


def test_densenet_defaults_are_densenet121() -> None:
    config = load_config(CONFIGS / "densenet.yaml", DeepConfig)
    from monai.networks.nets import DenseNet121

    ours = build_network(config.network, config.crop)
    reference = DenseNet121(spatial_dims=3, in_channels=2, out_channels=2)
    assert count_parameters(ours) == count_parameters(reference)


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "deep.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_vit_patches_must_tile_the_crop(tmp_path: Path) -> None:
    data = {
        "crop": {"size": [24, 24, 24]},
        "network": {"architecture": "vit", "patch_size": [5, 6, 6]},
    }
    with pytest.raises(ConfigError, match=r"patch_size .* must divide the crop"):
        load_config(_write(tmp_path, data), DeepConfig)


def test_unknown_architecture_and_keys_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="network"):
        load_config(_write(tmp_path, {"network": {"architecture": "unet"}}), DeepConfig)
    with pytest.raises(ConfigError, match=r"unknown key 'training\.lr'"):
        load_config(_write(tmp_path, {"training": {"lr": 0.1}}), DeepConfig)


def test_model_name_cannot_take_a_radiomics_name(tmp_path: Path) -> None:
    for bad in ("stack", "svm", "stack_fusion", "Dense Net"):
        with pytest.raises(ConfigError, match="name"):
            load_config(_write(tmp_path, {"name": bad}), DeepConfig)
