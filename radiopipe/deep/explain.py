"""Saliency maps: Grad-CAM for the CNNs (monai.visualize), attention rollout for the ViT."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from monai.visualize import GradCAM
from torch import nn

from radiopipe.config.deep import DeepConfig, ViTSettings
from radiopipe.deep.networks import ViTClassifier, gradcam_layer
from radiopipe.errors import ConfigError


def saliency(model: nn.Module, config: DeepConfig, images: torch.Tensor) -> tuple[np.ndarray, str]:
    """Maps (batch, z, y, x) in [0, 1] and the method's name.

    CNNs: Grad-CAM of the last feature layer for the predicted class's log-odds. ViT: attention
    rollout (class-agnostic; on toy data it localised the lesion far more reliably than
    Grad-CAM on the patch embeddings, which we therefore do not offer).
    """
    if isinstance(config.network, ViTSettings):
        return attention_rollout(model, images), "attention_rollout"
    layer = config.explain.gradcam_layer or gradcam_layer(config.network)
    return gradcam(model, images, layer), "gradcam"


class _LogOdds(nn.Module):
    """Wraps a two-logit classifier so that output ``c`` is the log-odds of class ``c``.

    Grad-CAM of a raw logit ignores that only the difference of the two logits matters;
    the log-odds is the quantity the prediction depends on.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-odds of each class, shape (batch, 2)."""
        logits = self.model(x)
        return logits - logits.flip(1)


def gradcam(model: nn.Module, images: torch.Tensor, layer: str) -> np.ndarray:
    """Grad-CAM of ``layer`` for each image's predicted class, upsampled to the image grid."""
    names = {name for name, _ in model.named_modules()}
    if layer not in names:
        raise ConfigError(
            f"explain.gradcam_layer {layer!r} is not a layer of the network; choose one of the "
            f"names printed by `model.named_modules()`, e.g. {', '.join(sorted(names)[-4:])}"
        )
    wrapped = _LogOdds(model).eval()
    cam = GradCAM(nn_module=wrapped, target_layers=f"model.{layer}", postprocessing=_same)
    maps = []
    # One image at a time: with a batch, MONAI scores every image by every image's class.
    for image in images:
        with torch.no_grad():
            predicted = int(wrapped(image[None]).argmax(dim=1))
        with torch.enable_grad():
            maps.append(cam(x=image[None], class_idx=predicted)[0, 0].detach().cpu().numpy())
    return _normalise(np.stack(maps))


def _same(maps: torch.Tensor) -> torch.Tensor:
    return maps


def attention_rollout(model: nn.Module, images: torch.Tensor, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar and Zuidema 2020): the class token's attention to each patch,
    propagated through every layer with the residual path, upsampled to the image grid."""
    vit = _as_vit(model)
    blocks = list(vit.blocks)
    previous = [b.attn.save_attn for b in blocks]
    for block in blocks:
        block.attn.save_attn = True
    try:
        with torch.no_grad():
            model.eval()(images)
        attentions = [b.attn.att_mat.float() for b in blocks]  # (batch, heads, tokens, tokens)
    finally:
        for block, flag in zip(blocks, previous, strict=True):
            block.attn.save_attn = flag
    tokens = attentions[0].shape[-1]
    eye = torch.eye(tokens, device=attentions[0].device)
    rollout = eye.expand(images.shape[0], tokens, tokens)
    for attention in attentions:
        mixed = residual * eye + (1 - residual) * attention.mean(dim=1)
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        rollout = mixed @ rollout
    patches = rollout[:, 0, 1:]  # class token -> patch tokens
    return _upsample(patches, vit, images)


def lesion_focus(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Mean saliency inside the lesion divided by mean saliency outside (per sample)."""
    inside = (maps * masks).sum(axis=(1, 2, 3)) / np.maximum(masks.sum(axis=(1, 2, 3)), 1)
    outside_mask = 1 - masks
    outside = (maps * outside_mask).sum(axis=(1, 2, 3)) / np.maximum(
        outside_mask.sum(axis=(1, 2, 3)), 1
    )
    return inside / np.maximum(outside, 1e-8)


def _as_vit(model: nn.Module) -> ViTClassifier:
    if not isinstance(model, ViTClassifier):
        raise TypeError("attention maps need the radiopipe ViT classifier")
    return model


def _upsample(patch_values: torch.Tensor, vit: ViTClassifier, images: torch.Tensor) -> np.ndarray:
    """Patch-token values (batch, n_patches) -> maps on the image grid (batch, z, y, x)."""
    spatial = tuple(images.shape[2:])
    grid = vit.patch_grid(spatial)
    volume = patch_values.reshape(patch_values.shape[0], 1, *grid).float()
    maps = F.interpolate(volume, size=spatial, mode="trilinear", align_corners=False)
    return _normalise(maps[:, 0].cpu().numpy())


def _normalise(maps: np.ndarray) -> np.ndarray:
    """Scale each map to [0, 1] (a constant map becomes zeros)."""
    out = np.zeros_like(maps, dtype=np.float32)
    for i, m in enumerate(maps):
        low, high = float(m.min()), float(m.max())
        if high > low:
            out[i] = (m - low) / (high - low)
    return out
