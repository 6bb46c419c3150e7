"""Torch datasets over cached crops, with MONAI augmentation seeded per epoch."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from monai.data import DataLoader
from monai.transforms import (
    Compose,
    RandAffined,
    RandFlipd,
    RandGaussianNoised,
    RandScaleIntensityd,
    RandShiftIntensityd,
    ToTensord,
)
from torch.utils.data import Dataset

from radiopipe.config.deep import AugmentSettings, CropSettings
from radiopipe.deep.crops import CropStore


def augmentation(settings: AugmentSettings, crop: CropSettings) -> Compose:
    """Random flips and small affine deformations (image and mask channel), then noise and
    intensity jitter (image channels only)."""
    keys = ["image", "mask"] if crop.mask_channel else ["image"]
    modes = ("bilinear", "nearest")[: len(keys)]
    angle = math.radians(settings.rotate_deg)
    spatial = [RandFlipd(keys, prob=settings.flip_prob, spatial_axis=axis) for axis in range(3)]
    spatial.append(
        RandAffined(
            keys,
            prob=settings.affine_prob,
            rotate_range=(angle, angle, angle),
            scale_range=(settings.scale,) * 3,
            translate_range=(settings.translate_voxels,) * 3,
            mode=modes,
            padding_mode="border",
        )
    )
    intensity = [
        RandGaussianNoised(["image"], prob=settings.noise_prob, std=settings.noise_std),
        RandScaleIntensityd(
            ["image"], factors=settings.intensity_scale, prob=settings.intensity_prob
        ),
        RandShiftIntensityd(
            ["image"], offsets=settings.intensity_shift, prob=settings.intensity_prob
        ),
    ]
    steps = [*spatial, *intensity] if settings.enabled else []
    return Compose([*steps, ToTensord(keys, track_meta=False)])


class CropDataset(Dataset):
    """Crops of the given patients with their labels, optionally augmented."""

    def __init__(
        self,
        store: CropStore,
        patients: Sequence[str],
        labels: Sequence[int],
        transform: Compose | None = None,
    ) -> None:
        self.store = store
        self.patients = list(patients)
        self.labels = [int(v) for v in labels]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.patients)

    def __getitem__(self, index: int) -> dict:
        image = torch.from_numpy(np.ascontiguousarray(self.store.load(self.patients[index]).image))
        if self.transform is None:
            return {"image": image, "label": self.labels[index]}
        n = len(self.store.settings.sequences)
        item = {"image": image[:n], "mask": image[n:]} if image.shape[0] > n else {"image": image}
        item = self.transform(item)
        parts = [torch.as_tensor(item["image"])]
        if "mask" in item:
            parts.append(torch.as_tensor(item["mask"]))
        return {"image": torch.cat(parts, dim=0), "label": self.labels[index]}


def loader(
    dataset: CropDataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A MONAI DataLoader whose shuffling and augmentation follow ``seed`` alone."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=num_workers,
        generator=generator,
        pin_memory=torch.cuda.is_available(),
    )
