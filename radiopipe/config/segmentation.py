"""Settings of the segmentation stage: data, V-Net, loss, training, augmentation, inference, QC."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from radiopipe.config.core import StrictModel
from radiopipe.contracts import MANIFEST_SPLITS, split_values

_SEQUENCE = re.compile(r"^[a-z0-9][a-z0-9_]*$")

Triple = tuple[float, float, float]
IntTriple = tuple[int, int, int]


class DataSettings(StrictModel):
    """How volumes are read, resampled and normalised (identical in training and inference)."""

    orientation: str = Field("RAS", description="Axis codes every volume is reoriented to.")
    spacing_mm: Triple = Field(
        (1.0, 1.0, 4.0), description="Target voxel spacing in mm along the oriented x, y, z axes."
    )
    normalization: Literal["zscore", "percentile"] = "zscore"
    nonzero: bool = Field(False, description="z-score over non-zero voxels only.")
    percentiles: tuple[float, float] = (0.5, 99.5)
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    cache_rate: float = Field(1.0, ge=0, le=1, description="Share of cases cached in memory.")
    num_workers: int = Field(0, ge=0, description="Data loader worker processes.")

    @field_validator("spacing_mm")
    @classmethod
    def _positive(cls, value: Triple) -> Triple:
        if any(v <= 0 for v in value):
            raise ValueError("every spacing must be > 0 mm")
        return value

    @field_validator("orientation")
    @classmethod
    def _axcodes(cls, value: str) -> str:
        axes = {"L": "x", "R": "x", "A": "y", "P": "y", "S": "z", "I": "z"}
        if len(value) != 3 or sorted(axes.get(c, "?") for c in value.upper()) != ["x", "y", "z"]:
            raise ValueError("orientation must be three axis codes such as RAS or LPS")
        return value.upper()


class NetworkSettings(StrictModel):
    """The 3-D V-Net."""

    architecture: Literal["vnet", "monai_vnet"] = Field(
        "vnet", description="vnet: ours, with deep supervision; monai_vnet: MONAI's VNet."
    )
    base_channels: int = Field(16, ge=2)
    depth: int = Field(4, ge=1, le=6, description="Number of stride-2 downsamplings.")
    max_convs: int = Field(3, ge=1, description="Residual convolutions per level, at most.")
    kernel_size: Literal[3, 5] = 5
    norm: Literal["batch", "instance"] = "instance"
    dropout: float = Field(0.0, ge=0, lt=1)
    deep_supervision: bool = Field(
        True, description="Auxiliary heads on the depth-1 coarser levels."
    )


class LossSettings(StrictModel):
    """Dice + cross-entropy, summed over the main and auxiliary heads."""

    dice_weight: float = Field(1.0, ge=0)
    ce_weight: float = Field(1.0, ge=0)
    deep_supervision_weights: list[float] | None = Field(
        None, description="Weight per head, main first; default 1, 1/2, 1/4, 1/8."
    )


class TrainSettings(StrictModel):
    """Optimisation, patch sampling, early stopping, device."""

    patch_size: IntTriple = (128, 128, 32)
    batch_size: int = Field(2, ge=1, description="Volumes per step.")
    patches_per_volume: int = Field(2, ge=1, description="Patches cropped from each volume.")
    positive_fraction: float = Field(
        0.5, ge=0, le=1, description="Share of patches centred on lesion voxels."
    )
    max_epochs: int = Field(300, ge=1)
    repeats_per_epoch: int = Field(1, ge=1, description="Passes over the training cases per epoch.")
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    lr_schedule: Literal["poly", "cosine", "constant"] = "poly"
    grad_clip: float | None = Field(12.0, gt=0)
    patience: int = Field(50, ge=1, description="Epochs without validation improvement.")
    min_delta: float = Field(1e-3, ge=0)
    validate_every: int = Field(1, ge=1)
    amp: bool = Field(True, description="Mixed precision; used only on CUDA.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    cpu_threads: int | None = Field(
        None, ge=1, description="torch CPU threads while training or predicting (None: default)."
    )


class AugmentSettings(StrictModel):
    """Random spatial and intensity augmentation (MONAI transforms)."""

    flip_prob: float = Field(0.5, ge=0, le=1)
    affine_prob: float = Field(0.2, ge=0, le=1)
    rotate_deg: Triple = (0.0, 0.0, 15.0)
    scale_range: float = Field(0.1, ge=0, lt=1)
    elastic_prob: float = Field(0.0, ge=0, le=1)
    elastic_sigma: tuple[float, float] = (5.0, 7.0)
    elastic_magnitude: tuple[float, float] = (50.0, 150.0)
    intensity_scale_prob: float = Field(0.2, ge=0, le=1)
    intensity_shift_prob: float = Field(0.2, ge=0, le=1)
    noise_prob: float = Field(0.1, ge=0, le=1)
    gamma_prob: float = Field(0.1, ge=0, le=1)


class InferenceSettings(StrictModel):
    """Sliding-window inference, test-time augmentation and post-processing."""

    overlap: float = Field(0.5, ge=0, lt=1)
    sw_batch_size: int = Field(4, ge=1)
    blend: Literal["gaussian", "constant"] = "gaussian"
    tta_flips: list[list[int]] = Field(
        [[0], [1], [2]], description="Flipped copies averaged with the plain prediction."
    )
    threshold: float = Field(0.5, gt=0, lt=1)
    keep_largest_component: bool = True
    fill_holes: bool = True

    @field_validator("tta_flips")
    @classmethod
    def _axes(cls, value: list[list[int]]) -> list[list[int]]:
        for flip in value:
            if not flip or any(a not in (0, 1, 2) for a in flip) or len(set(flip)) != len(flip):
                raise ValueError(f"each flip is a non-empty list of distinct axes 0-2, got {flip}")
        return value


class QCSettings(StrictModel):
    """Thresholds of the per-mask quality flags."""

    min_volume_ml: float = Field(1.0, ge=0, description="Smaller non-empty masks are 'tiny'.")
    border_margin_voxels: int = Field(0, ge=0, description="Mask this close to an edge touches.")
    min_tta_agreement: float = Field(
        0.9, ge=0, le=1, description="Lower Dice of TTA copies vs consensus is 'low confidence'."
    )


class SegmentStageSettings(StrictModel):
    """How a trained model is applied to a cohort (``segment_cohort``, ``radiopipe run``)."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    splits: list[str] | None = Field(
        None, description="Segment only patients of these splits (None: every patient)."
    )
    save_probabilities: bool = Field(False, description="Also write probability maps.")
    evaluate: bool = Field(True, description="Score against reference masks where they exist.")
    overlays: int = Field(4, ge=0, description="Cases per sequence drawn as PNG overlays.")

    @field_validator("splits")
    @classmethod
    def _manifest_splits(cls, value: list[str] | None) -> list[str] | None:
        allowed = split_values(MANIFEST_SPLITS)
        unknown = [s for s in value or [] if s not in allowed]
        if unknown:
            raise ValueError(f"unknown split(s) {unknown}; choose from {allowed}")
        return value


class SegmentationConfig(StrictModel):
    """Everything the segmentation stage needs; saved with the model and read by inference."""

    sequences: list[str] = Field(["t2w", "cet1w"], min_length=1)
    mode: Literal["per_sequence", "channels"] = Field(
        "per_sequence",
        description="per_sequence: one model per sequence (as in the study); channels: one "
        "model on all sequences stacked, resampled onto the first sequence's grid.",
    )
    seed: int = 0
    data: DataSettings = DataSettings()
    network: NetworkSettings = NetworkSettings()
    loss: LossSettings = LossSettings()
    train: TrainSettings = TrainSettings()
    augment: AugmentSettings = AugmentSettings()
    inference: InferenceSettings = InferenceSettings()
    qc: QCSettings = QCSettings()

    @field_validator("sequences")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not _SEQUENCE.match(s)]
        if bad:
            raise ValueError(f"sequence names must be lower-case letters, digits, '_': {bad}")
        if len(set(value)) != len(value):
            raise ValueError(f"sequences repeat: {value}")
        return value

    @model_validator(mode="after")
    def _patch_fits_network(self) -> SegmentationConfig:
        factor = 2**self.network.depth
        if self.network.architecture == "monai_vnet":
            factor = 16
        bad = [p for p in self.train.patch_size if p % factor]
        if bad:
            raise ValueError(
                f"train.patch_size {list(self.train.patch_size)} must be divisible by "
                f"{factor} (2 ** network.depth)"
            )
        return self

    def model_names(self) -> list[str]:
        """Names of the models this config trains: one per sequence, or one multichannel."""
        return list(self.sequences) if self.mode == "per_sequence" else ["multichannel"]

    def model_inputs(self, name: str) -> list[str]:
        """The sequences a model reads, in channel order."""
        return [name] if self.mode == "per_sequence" else list(self.sequences)
