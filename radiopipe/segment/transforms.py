"""MONAI transform chains: deterministic preprocessing (cached) and random augmentation."""

from __future__ import annotations

import math

from monai.transforms import (
    Compose,
    EnsureTyped,
    NormalizeIntensityd,
    Orientationd,
    Rand3DElasticd,
    RandAdjustContrastd,
    RandAffined,
    RandCropByPosNegLabeld,
    RandFlipd,
    RandGaussianNoised,
    RandScaleIntensityd,
    RandShiftIntensityd,
    ScaleIntensityRangePercentilesd,
    Spacingd,
    SpatialPadd,
)

from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.segment.data import LoadCased

_AXIS_LABELS = (("L", "R"), ("P", "A"), ("I", "S"))


def preprocessing(config: SegmentationConfig, inputs: list[str], with_label: bool) -> Compose:
    """Read, reorient, resample and normalise a case; the same in training and inference."""
    return Compose([LoadCased(inputs), *resample_and_normalize(config, with_label)])


def resample_and_normalize(config: SegmentationConfig, with_label: bool) -> list:
    """Reorient, resample to the target spacing (labels nearest) and normalise intensities."""
    keys = ["image", "label"] if with_label else ["image"]
    modes = ["bilinear", "nearest"] if with_label else ["bilinear"]
    return [
        Orientationd(keys=keys, axcodes=config.data.orientation, labels=_AXIS_LABELS),
        Spacingd(keys=keys, pixdim=config.data.spacing_mm, mode=modes, dtype=None),
        normalization(config),
    ]


def normalization(config: SegmentationConfig):
    """Per-channel intensity normalisation of the image (z-score or percentile range)."""
    data = config.data
    if data.normalization == "zscore":
        return NormalizeIntensityd(keys="image", nonzero=data.nonzero, channel_wise=True)
    low, high = data.percentiles
    return ScaleIntensityRangePercentilesd(
        keys="image", lower=low, upper=high, b_min=0.0, b_max=1.0, clip=True, channel_wise=True
    )


def augmentation(config: SegmentationConfig) -> Compose:
    """Balanced patch sampling, then random flips, affine, elastic and intensity changes."""
    train, aug = config.train, config.augment
    keys = ["image", "label"]
    steps = [
        SpatialPadd(keys=keys, spatial_size=train.patch_size),
        RandCropByPosNegLabeld(
            keys=keys,
            label_key="label",
            spatial_size=train.patch_size,
            pos=train.positive_fraction,
            neg=1.0 - train.positive_fraction,
            num_samples=train.patches_per_volume,
        ),
        *[RandFlipd(keys=keys, prob=aug.flip_prob, spatial_axis=axis) for axis in range(3)],
    ]
    if aug.affine_prob > 0:
        steps.append(
            RandAffined(
                keys=keys,
                prob=aug.affine_prob,
                rotate_range=[math.radians(d) for d in aug.rotate_deg],
                scale_range=[aug.scale_range] * 3,
                mode=["bilinear", "nearest"],
                padding_mode="border",
            )
        )
    if aug.elastic_prob > 0:
        steps.append(
            Rand3DElasticd(
                keys=keys,
                prob=aug.elastic_prob,
                sigma_range=aug.elastic_sigma,
                magnitude_range=aug.elastic_magnitude,
                mode=["bilinear", "nearest"],
                padding_mode="border",
            )
        )
    steps += [
        RandScaleIntensityd(keys="image", factors=0.1, prob=aug.intensity_scale_prob),
        RandShiftIntensityd(keys="image", offsets=0.1, prob=aug.intensity_shift_prob),
        RandGaussianNoised(keys="image", std=0.1, prob=aug.noise_prob),
        RandAdjustContrastd(keys="image", gamma=(0.7, 1.5), prob=aug.gamma_prob),
        EnsureTyped(keys=keys, track_meta=False),
    ]
    return Compose(steps)


def training(config: SegmentationConfig, inputs: list[str]) -> Compose:
    """The full training chain: preprocessing (cacheable prefix) then augmentation."""
    return Compose([*preprocessing(config, inputs, with_label=True).transforms,
                    *augmentation(config).transforms])  # fmt: skip
