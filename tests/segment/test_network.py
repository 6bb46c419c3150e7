"""The V-Net: deep-supervision heads, output shapes, gradients; MONAI's VNet as alternative."""

from __future__ import annotations

import torch

from radiopipe.config.segmentation import NetworkSettings
from radiopipe.segment.network import build_network, count_parameters


def test_default_depth_gives_main_and_three_auxiliary_heads() -> None:
    settings = NetworkSettings(base_channels=2, kernel_size=3, max_convs=1)
    model = build_network(settings, in_channels=2).train()
    outputs = model(torch.randn(1, 2, 32, 32, 16))
    assert [tuple(o.shape) for o in outputs] == [
        (1, 2, 32, 32, 16), (1, 2, 16, 16, 8), (1, 2, 8, 8, 4), (1, 2, 4, 4, 2),
    ]  # fmt: skip
    sum(o.square().mean() for o in outputs).backward()
    assert all(p.grad is not None for p in model.aux_heads.parameters())


def test_evaluation_and_plain_mode_return_only_the_main_logits() -> None:
    settings = NetworkSettings(base_channels=2, kernel_size=3, depth=2, max_convs=1)
    model = build_network(settings, in_channels=1).eval()
    x = torch.randn(2, 1, 16, 16, 8)
    assert model(x).shape == (2, 2, 16, 16, 8)
    plain = build_network(settings.model_copy(update={"deep_supervision": False}), 1).train()
    assert isinstance(plain(x), torch.Tensor)
    assert len(plain.aux_heads) == 0


def test_kernel_and_width_change_the_parameter_count() -> None:
    small = NetworkSettings(base_channels=4, kernel_size=3, depth=2)
    assert count_parameters(build_network(small, 1)) < count_parameters(
        build_network(small.model_copy(update={"kernel_size": 5}), 1)
    )


def test_monai_vnet_alternative() -> None:
    model = build_network(NetworkSettings(architecture="monai_vnet"), 2).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 2, 16, 16, 16)).shape == (1, 2, 16, 16, 16)
