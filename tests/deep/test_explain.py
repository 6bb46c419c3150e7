"""Saliency maps: shapes, and that they find the lesion when the label lives in the lesion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radiopipe.config.deep import (
    CropSettings,
    DeepConfig,
    DenseNetSettings,
    ResNetSettings,
    ViTSettings,
)
from radiopipe.deep.explain import lesion_focus, saliency
from radiopipe.deep.networks import build_network
from radiopipe.errors import ConfigError

SIZE = 24
CROP = CropSettings(size=(SIZE,) * 3, spacing_mm=(1.0, 1.0, 1.0))
NETWORKS = {
    "densenet": DenseNetSettings(init_features=8, growth_rate=8, block_config=(2, 2), bn_size=2),
    "resnet": ResNetSettings(layers=(1, 1, 1, 1), widths=(4, 8, 8, 8)),
    "vit": ViTSettings(patch_size=(6, 6, 6), hidden_size=32, mlp_dim=64, num_layers=2,
                       num_heads=2, dropout=0.0),
}  # fmt: skip


def toy_lesions(n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """Noise volumes with one sphere at a random place: visible on channel 0 in every case,
    bright on channel 1 when the label is 1 and dark when it is 0."""
    images = rng.standard_normal((n, 2, SIZE, SIZE, SIZE)).astype(np.float32)
    masks = np.zeros((n, SIZE, SIZE, SIZE), np.float32)
    labels = np.arange(n) % 2
    grid = np.indices((SIZE,) * 3)
    for i in range(n):
        centre = rng.uniform(6, SIZE - 6, 3)
        lesion = ((grid - centre[:, None, None, None]) ** 2).sum(axis=0) <= 4.5**2
        masks[i] = lesion
        images[i, 0][lesion] += 2.0
        images[i, 1][lesion] += 2.5 if labels[i] else -2.5
    return torch.from_numpy(images), torch.from_numpy(masks), torch.from_numpy(labels)


def train_toy(architecture: str, epochs: int, n: int = 64) -> torch.nn.Module:
    rng = np.random.default_rng(0)
    images, _, labels = toy_lesions(n, rng)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_network(NETWORKS[architecture], CROP)
        optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
        for _ in range(epochs):
            model.train()
            for batch in torch.randperm(len(images)).split(16):
                loss = torch.nn.functional.cross_entropy(model(images[batch]), labels[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
    return model.eval()


@pytest.mark.parametrize("architecture", ["densenet", "resnet", "vit"])
def test_maps_match_the_input_grid(architecture: str) -> None:
    config = DeepConfig(crop=CROP, network=NETWORKS[architecture])
    model = build_network(config.network, CROP).eval()
    images = torch.randn(3, 2, SIZE, SIZE, SIZE)
    maps, method = saliency(model, config, images)
    assert maps.shape == (3, SIZE, SIZE, SIZE) and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() <= 1
    assert method == ("attention_rollout" if architecture == "vit" else "gradcam")
    untouched = [b.attn.save_attn for b in model.blocks] if architecture == "vit" else []
    assert not any(untouched), "rollout switches attention saving back off"


def test_unknown_gradcam_layer_is_a_config_error() -> None:
    config = DeepConfig(crop=CROP, network=NETWORKS["densenet"])
    config.explain.gradcam_layer = "features.nope"
    model = build_network(config.network, CROP).eval()
    with pytest.raises(ConfigError, match=r"'features\.nope' is not a layer"):
        saliency(model, config, torch.randn(1, 2, SIZE, SIZE, SIZE))


def test_lesion_focus_is_one_for_maps_blind_to_the_lesion() -> None:
    _, masks, _ = toy_lesions(8, np.random.default_rng(2))
    flat = np.ones_like(masks.numpy())
    np.testing.assert_allclose(lesion_focus(flat, masks.numpy()), 1.0)
    assert np.allclose(lesion_focus(masks.numpy(), masks.numpy()), 1e8)  # nothing outside


@pytest.mark.slow
@pytest.mark.parametrize(("architecture", "epochs"), [("densenet", 6), ("vit", 8)])
def test_maps_highlight_the_lesion_that_decides_the_label(architecture: str, epochs: int):
    config = DeepConfig(crop=CROP, network=NETWORKS[architecture])
    images, masks, labels = toy_lesions(16, np.random.default_rng(1))
    model = train_toy(architecture, epochs)
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean()
    assert accuracy >= 0.9, "the toy problem is learnt"
    focus = lesion_focus(saliency(model, config, images)[0], masks.numpy())
    # Mean saliency inside the lesion over mean saliency outside: 1 for a map blind to it.
    assert np.median(focus) > 1.5 and (focus > 1).mean() >= 0.8
    for label in (0, 1):  # both classes' evidence sits in the lesion
        assert np.median(focus[labels.numpy() == label]) > 1.3
