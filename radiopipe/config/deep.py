"""Settings of the deep classifiers (3D CNN and ViT on lesion-centred two-channel crops)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from radiopipe.config.core import StrictModel
from radiopipe.contracts import TEST_SPLITS, Split, split_values

# Model names the radiomics stage writes; a deep model must not collide with them.
RESERVED_MODEL_NAMES = ("svm", "rf", "lightgbm", "mlp", "stack", "lasso_lr", "clinical")
_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CropSettings(StrictModel):
    """How each patient's lesion-centred crop is resampled and normalised."""

    sequences: tuple[str, ...] = Field(("t2w", "cet1w"), min_length=1)
    size: tuple[int, int, int] = (64, 64, 64)  # voxels, (x, y, z) as SimpleITK orders them
    spacing_mm: tuple[float, float, float] = (1.5, 1.5, 1.5)
    interpolation: Literal["linear", "bspline"] = "linear"
    normalise: Literal["zscore", "percentile"] = "zscore"
    clip_percentiles: tuple[float, float] = (0.5, 99.5)
    mask_channel: bool = False  # add the lesion mask as an extra input channel

    @field_validator("size")
    @classmethod
    def _positive_size(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if min(value) < 8:
            raise ValueError("every crop dimension must be at least 8 voxels")
        return value

    @field_validator("spacing_mm")
    @classmethod
    def _positive_spacing(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(value) <= 0:
            raise ValueError("spacing must be positive")
        return value

    @field_validator("clip_percentiles")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] < value[1] <= 100:
            raise ValueError("need 0 <= low < high <= 100")
        return value

    @property
    def channels(self) -> int:
        """Number of network input channels."""
        return len(self.sequences) + int(self.mask_channel)

    @property
    def array_shape(self) -> tuple[int, int, int]:
        """Spatial shape of a crop as a (z, y, x) array."""
        return (self.size[2], self.size[1], self.size[0])


class DenseNetSettings(StrictModel):
    """MONAI 3D DenseNet; the defaults are DenseNet121."""

    architecture: Literal["densenet"] = "densenet"
    init_features: int = Field(64, ge=1)
    growth_rate: int = Field(32, ge=1)
    block_config: tuple[int, ...] = Field((6, 12, 24, 16), min_length=1)
    bn_size: int = Field(4, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)


class ResNetSettings(StrictModel):
    """MONAI 3D ResNet; the defaults are ResNet-18."""

    architecture: Literal["resnet"] = "resnet"
    block: Literal["basic", "bottleneck"] = "basic"
    layers: tuple[int, int, int, int] = (2, 2, 2, 2)
    widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    conv1_size: int = Field(7, ge=1)
    conv1_stride: int = Field(2, ge=1)
    no_max_pool: bool = False


class ViTSettings(StrictModel):
    """MONAI 3D Vision Transformer with a classification token."""

    architecture: Literal["vit"] = "vit"
    patch_size: tuple[int, int, int] = (16, 16, 16)  # (z, y, x) voxels of the crop array
    hidden_size: int = Field(384, ge=1)
    mlp_dim: int = Field(1536, ge=1)
    num_layers: int = Field(6, ge=1)
    num_heads: int = Field(6, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)

    @model_validator(mode="after")
    def _heads_divide(self) -> ViTSettings:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}"
            )
        return self


NetworkSettings = Annotated[
    DenseNetSettings | ResNetSettings | ViTSettings, Field(discriminator="architecture")
]


class AugmentSettings(StrictModel):
    """MONAI random transforms applied to training crops only."""

    enabled: bool = True
    flip_prob: float = Field(0.5, ge=0, le=1)  # per axis
    affine_prob: float = Field(0.5, ge=0, le=1)
    rotate_deg: float = Field(10.0, ge=0, le=180)
    scale: float = Field(0.1, ge=0, lt=1)  # zoom range +-
    translate_voxels: float = Field(2.0, ge=0)
    noise_prob: float = Field(0.2, ge=0, le=1)
    noise_std: float = Field(0.05, ge=0)
    intensity_prob: float = Field(0.5, ge=0, le=1)
    intensity_scale: float = Field(0.1, ge=0)
    intensity_shift: float = Field(0.1, ge=0)


class TrainingSettings(StrictModel):
    """Optimisation, early stopping, inner validation split and hardware."""

    epochs: int = Field(100, ge=1)
    batch_size: int = Field(8, ge=2)
    learning_rate: float = Field(1e-4, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    scheduler: Literal["none", "cosine"] = "cosine"
    monitor: Literal["val_loss", "val_auc"] = "val_loss"
    patience: int = Field(15, ge=1)  # epochs without improvement before stopping
    validation_fraction: float = Field(0.2, gt=0, lt=0.5)
    class_weighting: bool = True  # inverse-frequency weights in the loss
    oof_folds: int = Field(5, ge=2)  # inner CV of the training patients (train_oof rows)
    amp: bool = True  # mixed precision; only ever used on CUDA
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_workers: int = Field(0, ge=0)
    cache_crops: bool = True  # keep every crop in memory after its first read
    inference_batch_size: int = Field(16, ge=1)


class ExplainSettings(StrictModel):
    """Which patients get Grad-CAM / attention-rollout overlays after training."""

    enabled: bool = True
    patients_per_class: int = Field(3, ge=0)
    splits: tuple[str, ...] = (*split_values(TEST_SPLITS), Split.CV.value)  # first present is used
    gradcam_layer: str | None = None  # CNN layer for Grad-CAM; default: the last feature layer


class DeepConfig(StrictModel):
    """Everything ``radiopipe deep train`` needs besides the manifest."""

    name: str | None = None  # the `model` column; defaults to the architecture family
    seed: int = 0
    crop: CropSettings = CropSettings()
    network: NetworkSettings = DenseNetSettings()
    augment: AugmentSettings = AugmentSettings()
    training: TrainingSettings = TrainingSettings()
    explain: ExplainSettings = ExplainSettings()

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _MODEL_NAME.match(value):
            raise ValueError("model name must be lower-case letters, digits and '_'")
        if value in RESERVED_MODEL_NAMES or value.startswith("stack"):
            raise ValueError(f"{value!r} is a radiomics model name; choose another")
        return value

    @model_validator(mode="after")
    def _patches_tile_crop(self) -> DeepConfig:
        if isinstance(self.network, ViTSettings):
            shape = self.crop.array_shape
            if any(s % p for s, p in zip(shape, self.network.patch_size, strict=True)):
                raise ValueError(
                    f"network.patch_size {self.network.patch_size} must divide the crop array "
                    f"shape (z, y, x) {shape}"
                )
        return self

    @property
    def model_name(self) -> str:
        """The name written into the predictions table."""
        return self.name or self.network.architecture
