"""Inference: sliding window, Gaussian blending, flip TTA, original geometry, post-processing."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from monai.inferers import sliding_window_inference
from monai.transforms import Compose

from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.segment.data import stack_inputs
from radiopipe.segment.geometry import resample_onto, to_sitk
from radiopipe.segment.model_folder import read_model_folder
from radiopipe.segment.network import build_network
from radiopipe.segment.transforms import resample_and_normalize
from radiopipe.torchrun.checkpoint import load_weights
from radiopipe.torchrun.device import autocast, select_device, use_amp

log = logging.getLogger(__name__)


def window_probability(
    model: torch.nn.Module,
    image: torch.Tensor,
    config: SegmentationConfig,
    device: torch.device,
    amp: bool = False,
) -> torch.Tensor:
    """Lesion probability (X, Y, Z) of a (C, X, Y, Z) image by Gaussian-blended sliding windows."""
    inference = config.inference
    with torch.no_grad(), autocast(device, amp):
        logits = sliding_window_inference(
            torch.as_tensor(image)[None].to(device),
            roi_size=config.train.patch_size,
            sw_batch_size=inference.sw_batch_size,
            predictor=model,
            overlap=inference.overlap,
            mode=inference.blend,
        )
    return torch.softmax(torch.as_tensor(logits).float(), dim=1)[0, 1]


def tta_probabilities(
    model: torch.nn.Module,
    image: torch.Tensor,
    config: SegmentationConfig,
    device: torch.device,
    amp: bool = False,
) -> list[torch.Tensor]:
    """The plain prediction and one per configured flip (flipped back), on the model's grid."""
    members = [window_probability(model, image, config, device, amp)]
    for axes in config.inference.tta_flips:
        dims = [a + 1 for a in axes]  # image is channel-first
        flipped = window_probability(model, torch.flip(image, dims), config, device, amp)
        members.append(torch.flip(flipped, [a for a in axes]))
    return members


def dice(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Dice of two binary arrays; 1.0 when both are empty."""
    a, b = torch.as_tensor(a).bool(), torch.as_tensor(b).bool()
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def tta_agreement(members: list[torch.Tensor], threshold: float) -> float:
    """Mean Dice of each TTA member's mask with the consensus mask (NaN without TTA)."""
    if len(members) < 2:
        return float("nan")
    consensus = torch.stack(members).mean(0) >= threshold
    return float(np.mean([dice(m >= threshold, consensus) for m in members]))


def postprocess(mask: sitk.Image, config: SegmentationConfig) -> tuple[sitk.Image, int]:
    """Keep the largest connected component and fill enclosed holes (SimpleITK filters).

    Returns the cleaned mask and the number of components before cleaning.
    """
    mask = sitk.Cast(mask > 0, sitk.sitkUInt8)
    labels = sitk.RelabelComponent(sitk.ConnectedComponent(mask), sortByObjectSize=True)
    count = int(sitk.GetArrayViewFromImage(labels).max())
    if config.inference.keep_largest_component and count > 1:
        mask = sitk.Cast(labels == 1, sitk.sitkUInt8)
    if config.inference.fill_holes:
        mask = sitk.BinaryFillhole(mask, fullyConnected=False, foregroundValue=1)
    return mask, count


@dataclass
class SequenceResult:
    """One sequence's automatic mask and probability, both in the image's original geometry."""

    mask: sitk.Image
    probability: sitk.Image
    tta_agreement: float
    components: int


class Segmenter:
    """A trained model folder ready to segment patients on CPU or CUDA."""

    def __init__(self, folder: str | Path, device: str = "auto") -> None:
        self.folder = Path(folder)
        self.config, self.card = read_model_folder(self.folder)
        self.device = select_device(device)
        self.amp = use_amp(self.device, self.config.train.amp)
        self.models: dict[str, torch.nn.Module] = {}
        for name in self.config.model_names():
            inputs = self.config.model_inputs(name)
            model = build_network(self.config.network, len(inputs))
            load_weights(self.folder / self.card["models"][name]["weights"], model)
            self.models[name] = model.to(self.device).eval()
        self.transform = Compose(resample_and_normalize(self.config, with_label=False))

    @property
    def sequences(self) -> list[str]:
        """The sequences this model folder needs and segments."""
        return list(self.config.sequences)

    @property
    def model_id(self) -> str:
        """An identifier of the weights (hash of all weight hashes)."""
        digest = hashlib.sha256()
        for name in sorted(self.models):
            digest.update(self.card["models"][name]["weights_sha256"].encode())
        return digest.hexdigest()[:16]

    def segment(self, patient: str, images: dict[str, sitk.Image]) -> dict[str, SequenceResult]:
        """Masks for each configured sequence, in the geometry of that sequence's image."""
        results: dict[str, SequenceResult] = {}
        threshold = self.config.inference.threshold
        for name, model in self.models.items():
            inputs = self.config.model_inputs(name)
            data = self.transform({"image": stack_inputs(patient, images, inputs)})
            image = data["image"]
            members = tta_probabilities(
                model, image.as_tensor(), self.config, self.device, self.amp
            )
            agreement = tta_agreement(members, threshold)
            mean = torch.stack(members).mean(0).cpu().numpy().astype(np.float32)
            on_model_grid = to_sitk(mean, image.affine)
            for sequence in inputs if self.config.mode == "per_sequence" else self.sequences:
                probability = resample_onto(on_model_grid, images[sequence], linear=True)
                mask, count = postprocess(
                    sitk.Cast(probability >= threshold, sitk.sitkUInt8), self.config
                )
                results[sequence] = SequenceResult(mask, probability, agreement, count)
        return results
