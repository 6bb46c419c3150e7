"""Throughput of the deep models: crop extraction, training and inference, on this device.

Reference run in the same process: a bare PyTorch loop over the same network on tensors
already in memory (no crop store, no augmentation, no data loader). The ratio
bare / radiopipe shows what the data pipeline costs; AMP is on for both when CUDA is present.

    .venv/bin/python benchmarks/deep.py --configs tiny_cnn tiny_vit densenet vit --patients 32
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
import torch

from radiopipe.cohort.manifest import read_manifest
from radiopipe.config import load_config
from radiopipe.config.deep import DeepConfig
from radiopipe.deep.crops import CropStore
from radiopipe.deep.data import CropDataset, augmentation, loader
from radiopipe.deep.networks import build_network, count_parameters
from radiopipe.deep.predict import predict_proba
from radiopipe.torchrun.device import select_device

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "deep"


def write_cohort(folder: Path, n: int, rng: np.random.Generator) -> Path:
    """Study-like volumes: T2WI 256x256x24 (0.8x0.8x6 mm), CE-T1WI 256x256x36 (0.9x0.9x4 mm)."""
    grids = {"t2w": ((256, 256, 24), (0.8, 0.8, 6.0)), "cet1w": ((256, 256, 36), (0.9, 0.9, 4.0))}
    rows = []
    for i in range(n):
        row = {"patient_id": f"B{i:03d}", "site": "A", "split": "train", "label": str(i % 2)}
        for seq, (size, spacing) in grids.items():
            zz, yy, xx = np.indices(size[::-1], dtype=np.float32)
            centre = np.array(size[::-1]) / 2 + rng.uniform(-4, 4, 3)
            radius = rng.uniform(20, 35) / np.array(spacing[::-1])
            lesion = (((zz - centre[0]) / radius[0]) ** 2 + ((yy - centre[1]) / radius[1]) ** 2
                      + ((xx - centre[2]) / radius[2]) ** 2) <= 1  # fmt: skip
            image = (300 + 40 * rng.standard_normal(lesion.shape) + 150 * lesion).astype(np.int16)
            for kind, array in (("image", image), ("mask", lesion.astype(np.uint8))):
                volume = sitk.GetImageFromArray(array)
                volume.SetSpacing(spacing)
                path = folder / f"{row['patient_id']}_{seq}_{kind}.nii.gz"
                sitk.WriteImage(volume, str(path))
                row[f"{kind}_{seq}"] = path.name
        rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


def train_ours(config: DeepConfig, store: CropStore, ids: list[str], device, epochs: int) -> float:
    """Samples per second of radiopipe's training epoch (store, augmentation, loader, AMP)."""
    model = build_network(config.network, config.crop).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    amp = device.type == "cuda" and config.training.amp
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    dataset = CropDataset(store, ids, [i % 2 for i in range(len(ids))],
                          augmentation(config.augment, config.crop))  # fmt: skip
    rates = []
    for epoch in range(epochs + 1):  # epoch 0 warms up
        _sync(device)
        start, seen = time.perf_counter(), 0
        batches = loader(dataset, config.training.batch_size, shuffle=True, seed=epoch,
                         num_workers=config.training.num_workers, drop_last=True)  # fmt: skip
        model.train()
        for batch in batches:
            images = batch["image"].to(device, non_blocking=True)
            targets = torch.as_tensor(batch["label"], device=device)
            optimiser.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=amp):
                loss = torch.nn.functional.cross_entropy(model(images), targets)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            seen += len(targets)
        _sync(device)
        rates.append(seen / (time.perf_counter() - start))
    return max(rates[1:])


def train_bare(config: DeepConfig, images: torch.Tensor, device, epochs: int) -> float:
    """Samples per second of a plain loop on in-memory tensors (the reference)."""
    model = build_network(config.network, config.crop).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    amp = device.type == "cuda" and config.training.amp
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    images = images.to(device)
    labels = (torch.arange(len(images)) % 2).to(device)
    size = config.training.batch_size
    rates = []
    for _ in range(epochs + 1):
        _sync(device)
        start, seen = time.perf_counter(), 0
        for first in range(0, len(images) - size + 1, size):
            optimiser.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=amp):
                loss = torch.nn.functional.cross_entropy(
                    model(images[first : first + size]), labels[first : first + size]
                )
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            seen += size
        _sync(device)
        rates.append(seen / (time.perf_counter() - start))
    return max(rates[1:])


@torch.no_grad()
def infer_bare(config: DeepConfig, images: torch.Tensor, device, repeat: int) -> float:
    """Samples per second of plain batched forward passes on in-memory tensors (best run)."""
    model = build_network(config.network, config.crop).to(device).eval()
    images = images.to(device)
    size = config.training.inference_batch_size

    def run() -> None:
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            for first in range(0, len(images), size):
                model(images[first : first + size])

    return len(images) / best_of(run, device, repeat)


def infer_ours(config: DeepConfig, store: CropStore, ids: list[str], device, repeat: int) -> float:
    """Samples per second of radiopipe's predict_proba (store, loader, AMP on CUDA)."""
    model = build_network(config.network, config.crop).to(device)
    size = config.training.inference_batch_size
    return len(ids) / best_of(
        lambda: predict_proba(model, store, ids, device, size), device, repeat
    )


def best_of(fn, device: torch.device, repeat: int) -> float:
    """Fastest of ``repeat`` timed calls after one warm-up call, in seconds."""
    fn()
    times = []
    for _ in range(repeat):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["tiny_cnn", "tiny_vit", "densenet", "vit"])
    parser.add_argument("--patients", type=int, default=32)
    parser.add_argument(
        "--epochs",
        type=int,
        default=3,
        help="timed epochs after one warm-up; the fastest is reported",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed inference passes (best)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    device = select_device("auto")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device: {name}; torch {torch.__version__}; {torch.get_num_threads()} CPU threads; "
        f"{args.patients} patients; best of {args.epochs} epochs, {args.repeat} passes"
    )
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_cohort(Path(tmp), args.patients, rng)
        cohort = read_manifest(manifest)
        ids = cohort.patients
        print(f"{'config':<10} {'params':>10} {'crop':>9} {'crop case/s':>12} {'train/s':>8} "
              f"{'bare':>8} {'x':>5} {'infer/s':>8} {'bare':>8} {'x':>5}")  # fmt: skip
        for config_name in args.configs:
            config = load_config(CONFIGS / f"{config_name}.yaml", DeepConfig)
            store = CropStore(
                Path(tmp) / f"crops_{config_name}", config.crop, config.training.cache_crops
            )
            start = time.perf_counter()
            store.build(cohort, ids)
            crop_rate = len(ids) / (time.perf_counter() - start)
            images = torch.from_numpy(np.stack([store.load(p).image for p in ids]))
            ours = train_ours(config, store, ids, device, args.epochs)
            bare = train_bare(config, images, device, args.epochs)
            ours_inf = infer_ours(config, store, ids, device, args.repeat)
            bare_inf = infer_bare(config, images, device, args.repeat)
            params = count_parameters(build_network(config.network, config.crop))
            print(
                f"{config_name:<10} {params:>10,} {'x'.join(map(str, config.crop.size)):>9} "
                f"{crop_rate:>12.2f} {ours:>8.2f} {bare:>8.2f} {bare / ours:>5.2f} "
                f"{ours_inf:>8.1f} {bare_inf:>8.1f} {bare_inf / ours_inf:>5.2f}"
            )


if __name__ == "__main__":
    main()
