"""Network factories: MONAI 3D DenseNet, ResNet and ViT with two output logits."""

from __future__ import annotations

import torch
from monai.networks.nets import DenseNet, ResNet, ViT
from torch import nn

from radiopipe.config.deep import (
    CropSettings,
    DenseNetSettings,
    NetworkSettings,
    ResNetSettings,
    ViTSettings,
)

N_CLASSES = 2  # logits for (unfavourable, favourable); probability = softmax[:, 1]


class ViTClassifier(ViT):
    """MONAI ViT whose forward returns only the class logits (from the classification token)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Class logits of shape (batch, 2)."""
        return super().forward(x)[0]

    def patch_grid(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        """Number of patches along each axis for an input of ``spatial`` shape (z, y, x)."""
        kernel = self.patch_embedding.patch_embeddings.kernel_size
        return tuple(int(s) // int(k) for s, k in zip(spatial, kernel, strict=True))


def build_network(network: NetworkSettings, crop: CropSettings) -> nn.Module:
    """Instantiate the configured network for crops of ``crop``'s shape and channels."""
    if isinstance(network, DenseNetSettings):
        return DenseNet(
            spatial_dims=3,
            in_channels=crop.channels,
            out_channels=N_CLASSES,
            init_features=network.init_features,
            growth_rate=network.growth_rate,
            block_config=network.block_config,
            bn_size=network.bn_size,
            dropout_prob=network.dropout,
        )
    if isinstance(network, ResNetSettings):
        return ResNet(
            block=network.block,
            layers=list(network.layers),
            block_inplanes=list(network.widths),
            spatial_dims=3,
            n_input_channels=crop.channels,
            conv1_t_size=network.conv1_size,
            conv1_t_stride=network.conv1_stride,
            no_max_pool=network.no_max_pool,
            num_classes=N_CLASSES,
        )
    if isinstance(network, ViTSettings):
        return ViTClassifier(
            in_channels=crop.channels,
            img_size=crop.array_shape,
            patch_size=network.patch_size,
            hidden_size=network.hidden_size,
            mlp_dim=network.mlp_dim,
            num_layers=network.num_layers,
            num_heads=network.num_heads,
            dropout_rate=network.dropout,
            classification=True,
            num_classes=N_CLASSES,
            post_activation="none",  # raw logits, no tanh squashing
            spatial_dims=3,
        )
    raise TypeError(f"unknown network settings {type(network).__name__}")


def gradcam_layer(network: NetworkSettings) -> str:
    """Name of the last convolutional feature layer that Grad-CAM reads."""
    if isinstance(network, DenseNetSettings):
        return "class_layers.relu"
    if isinstance(network, ResNetSettings):
        return "layer4"
    raise ValueError("Grad-CAM needs a convolutional network; use attention rollout for the ViT")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
