from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from radiopipe.config.deep import AugmentSettings, CropSettings
from radiopipe.deep.crops import Crop, CropStore
from radiopipe.deep.data import CropDataset, augmentation, loader

SETTINGS = CropSettings(size=(16, 16, 16), spacing_mm=(2.0, 2.0, 2.0), mask_channel=True)


@pytest.fixture
def store(tmp_path: Path) -> CropStore:
    store = CropStore(tmp_path, SETTINGS, in_memory=True)
    rng = np.random.default_rng(0)
    grid = np.indices((16, 16, 16))
    for i in range(6):
        mask = (((grid - 8) ** 2).sum(axis=0) <= (3 + i % 3) ** 2).astype(np.uint8)
        image = np.concatenate([rng.standard_normal((2, 16, 16, 16)), mask[None]]).astype(
            np.float32
        )
        store._write(f"P{i}", Crop(image, np.stack([mask, mask]), 1.0), "sig")
    return store


def _epoch(store: CropStore, seed: int, strong: AugmentSettings) -> list[torch.Tensor]:
    ids = [f"P{i}" for i in range(6)]
    dataset = CropDataset(store, ids, [i % 2 for i in range(6)], augmentation(strong, SETTINGS))
    return [b["image"] for b in loader(dataset, 3, shuffle=True, seed=seed)]


def test_augmentation_follows_the_seed_and_keeps_the_mask_binary(store: CropStore) -> None:
    strong = AugmentSettings(flip_prob=0.5, affine_prob=1.0, rotate_deg=20, noise_prob=1.0,
                             intensity_prob=1.0, intensity_shift=0.5)  # fmt: skip
    first, again, other = (
        _epoch(store, 3, strong),
        _epoch(store, 3, strong),
        _epoch(store, 4, strong),
    )
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a, b), "same seed, same batches"
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))
    for batch in first:
        assert batch.shape == (3, 3, 16, 16, 16) and batch.dtype == torch.float32
        assert set(torch.unique(batch[:, 2]).tolist()) <= {0.0, 1.0}, "mask stays binary"


def test_without_augmentation_the_crop_comes_back_unchanged(store: CropStore) -> None:
    off = AugmentSettings(enabled=False)
    batch = _epoch(store, 0, off)[0]
    originals = [torch.from_numpy(store.load(f"P{i}").image) for i in range(6)]
    assert any(torch.equal(batch[0], o) for o in originals)


def test_in_memory_store_reads_each_file_once(store: CropStore) -> None:
    first = store.load("P1")
    store.path("P1").unlink()
    assert store.load("P1") is first
