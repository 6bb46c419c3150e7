"""Speed (and optionally quality) of radiopipe's V-Net segmentation, on CUDA when present.

Measures, for a segmentation config:
- training throughput (patches/s) of one optimiser step on random patches of the configured
  size: our deep-supervised V-Net with Dice+CE over all heads (AMP on CUDA), against MONAI's
  VNet in the same loop (the reference implementation, no deep supervision);
- inference time per volume of the full ``Segmenter.segment`` path (resample, sliding window
  with Gaussian blending, flip TTA, back to the original grid, post-processing) on a volume of
  the synthetic cohort's default size, against MONAI's ``sliding_window_inference`` with
  MONAI's VNet on the same preprocessed tensor (one pass, no TTA);
- with ``--quality``: trains the config on a synthetic cohort (``radiopipe.synth``), segments
  its held-out (internal and external test) patients and prints Dice / HD95 per sequence.

    .venv/bin/python benchmarks/segmentation.py --config configs/segmentation/vnet.yaml
    .venv/bin/python benchmarks/segmentation.py --config configs/segmentation/tiny.yaml \
        --quality --sites A:30,B:10 --size tiny
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from radiopipe.config import load_config, save_resolved
from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.hashing import file_sha256
from radiopipe.segment import model_folder as ckpt
from radiopipe.segment.network import build_network, count_parameters
from radiopipe.torchrun.checkpoint import save_tensors
from radiopipe.torchrun.device import autocast, select_device, use_amp


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work so timings are real."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def training_throughput(
    config: SegmentationConfig, network, device: torch.device, steps: int
) -> float:
    """Patches per second of full optimiser steps (forward, loss, backward, update)."""
    from monai.losses import DeepSupervisionLoss, DiceCELoss

    model = network.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    amp = use_amp(device, config.train.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    loss_fn = DeepSupervisionLoss(DiceCELoss(to_onehot_y=True, softmax=True, batch=True))
    batch = config.train.batch_size * config.train.patches_per_volume
    inputs = len(config.model_inputs(config.model_names()[0]))
    x = torch.randn(batch, inputs, *config.train.patch_size, device=device)
    y = (torch.rand(batch, 1, *config.train.patch_size, device=device) > 0.7).float()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, amp):
            out = model(x)
        loss = loss_fn(out, y)  # a list of heads or one tensor
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(2):  # warm-up (cuDNN autotuning, allocator)
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return steps * batch / (time.perf_counter() - start)


def random_model_folder(config: SegmentationConfig, folder: Path) -> Path:
    """A model folder with randomly initialised weights (speed does not depend on them)."""
    save_resolved(config, folder / ckpt.CONFIG_FILE)
    models = {}
    for name in config.model_names():
        weights = folder / name / ckpt.WEIGHTS_FILE
        weights.parent.mkdir(parents=True, exist_ok=True)
        network = build_network(config.network, len(config.model_inputs(name)))
        save_tensors(weights, network.state_dict())
        models[name] = {"weights": f"{name}/{ckpt.WEIGHTS_FILE}", "done": True,
                        "weights_sha256": file_sha256(weights)}  # fmt: skip
    ckpt.write_card(folder, config, models)
    return folder


def synth_generator():
    """``radiopipe.synth.cohort.generate_cohort`` (ImportError where synth is absent)."""
    return importlib.import_module("radiopipe.synth.cohort").generate_cohort


def test_volume(folder: Path, size: str) -> dict[str, sitk.Image]:
    """One synthetic patient's volumes (radiopipe.synth), or a noise volume of that grid."""
    try:
        generate_cohort = synth_generator()
        manifest = generate_cohort(folder / "cohort", sites="A:2", seed=0, size=size)
        from radiopipe.cohort import read_manifest

        cohort = read_manifest(manifest)
        patient = cohort.patients[0]
        return {s: sitk.ReadImage(str(cohort.image_path(patient, s))) for s in cohort.sequences}
    except ImportError:
        print("radiopipe.synth not available: timing a noise volume on the default T2 grid")
        images = {}
        grids = {"t2w": ((22, 289, 289), (0.9, 0.9, 6.0)),
                 "cet1w": ((33, 255, 255), (1.02, 1.02, 4.0))}  # fmt: skip
        for seq, (shape, spacing) in grids.items():
            image = sitk.GetImageFromArray(np.random.default_rng(0).random(shape, np.float32))
            image.SetSpacing(spacing)
            images[seq] = image
        return images


def inference_times(
    config: SegmentationConfig,
    images: dict[str, sitk.Image],
    device: str,
    repeats: int,
    reference: bool = True,
) -> tuple[float, float | None]:
    """Seconds per patient: our full path for all models, and MONAI's plain window pass."""
    from monai.inferers import sliding_window_inference
    from monai.networks.nets import VNet

    from radiopipe.segment.data import stack_inputs
    from radiopipe.segment.infer import Segmenter

    with tempfile.TemporaryDirectory() as tmp:
        segmenter = Segmenter(random_model_folder(config, Path(tmp)), device)
        segmenter.segment("bench", images)  # warm-up
        synchronize(segmenter.device)
        start = time.perf_counter()
        for _ in range(repeats):
            segmenter.segment("bench", images)
        synchronize(segmenter.device)
        ours = (time.perf_counter() - start) / repeats
        if not reference:
            return ours, None
        monai_net = VNet(in_channels=1, out_channels=2).to(segmenter.device).eval()
        total = 0.0
        for name in config.model_names():
            inputs = config.model_inputs(name)
            tensor = segmenter.transform({"image": stack_inputs("bench", images, inputs)})
            x = tensor["image"].as_tensor()[None, :1].to(segmenter.device)
            with torch.no_grad(), autocast(segmenter.device, segmenter.amp):
                sliding_window_inference(x, config.train.patch_size, 4, monai_net)
                synchronize(segmenter.device)
                start = time.perf_counter()
                for _ in range(repeats):
                    sliding_window_inference(
                        x, config.train.patch_size, config.inference.sw_batch_size, monai_net,
                        overlap=config.inference.overlap,
                    )  # fmt: skip
                synchronize(segmenter.device)
            total += (time.perf_counter() - start) / repeats
    return ours, total


def quality(config: SegmentationConfig, sites: str, size: str, device: str, out: Path) -> None:
    """Train on the synthetic cohort's train split; Dice on its held-out patients."""
    from radiopipe.cohort import read_manifest
    from radiopipe.segment.evaluate import run_evaluation
    from radiopipe.segment.predict import predict
    from radiopipe.segment.runner import train

    generate_cohort = synth_generator()
    manifest = generate_cohort(out / "cohort", sites=sites, seed=0, size=size)
    cohort = read_manifest(manifest)
    start = time.perf_counter()
    states = train(cohort, config, out / "model", device=device)
    train_s = time.perf_counter() - start
    held_out = cohort.subset(patients=[p for p in cohort.patients
                                       if cohort.row(p)["split"] != "train"])  # fmt: skip
    start = time.perf_counter()
    predict(held_out, out / "model", out / "pred", device=device)
    predict_s = (time.perf_counter() - start) / len(held_out.patients)
    evaluation = run_evaluation(read_manifest(out / "pred" / "manifest.csv"), out / "eval",
                                overlays=4)  # fmt: skip
    print(f"\nquality: trained in {train_s:.0f} s; predict {predict_s:.2f} s/patient (all "
          f"sequences, incl. reading and writing); outputs in {out}")  # fmt: skip
    for name, state in states.items():
        rate = np.mean([r["patches_per_s"] for r in state.history])
        print(f"  {name}: {state.epoch} epochs, best validation Dice {state.best_dice:.3f}, "
              f"{rate:.1f} patches/s with data loading")  # fmt: skip
    table = evaluation.summary[["sequence", "split", "n", "dice_mean", "dice_sd",
                                "hd95_mm_mean", "msd_mm_mean"]]  # fmt: skip
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def time_training(
    config: SegmentationConfig, device: torch.device, steps: int, reference: bool
) -> None:
    """Print training patches/s of our V-Net and (when the patch allows) MONAI's VNet."""
    channels = len(config.model_inputs(config.model_names()[0]))
    ours = build_network(config.network, channels)
    ours_rate = training_throughput(config, ours, device, steps)
    heads = config.network.depth - 1 if config.network.deep_supervision else 0
    print(f"\ntraining   ours ({count_parameters(ours) / 1e6:.1f} M params, {heads} aux heads): "
          f"{ours_rate:.3g} patches/s")  # fmt: skip
    if reference and all(p % 16 == 0 for p in config.train.patch_size):
        monai_net = build_network(
            config.network.model_copy(update={"architecture": "monai_vnet"}), channels
        )
        ref_rate = training_throughput(config, monai_net, device, steps)
        print(f"training   MONAI VNet ({count_parameters(monai_net) / 1e6:.1f} M params): "
              f"{ref_rate:.3g} patches/s; ours/MONAI = {ours_rate / ref_rate:.2f}")  # fmt: skip


def time_inference(
    config: SegmentationConfig, device: str, size: str, repeats: int, reference: bool
) -> None:
    """Print seconds per patient and per volume of the full inference path (and MONAI's)."""
    with tempfile.TemporaryDirectory() as tmp:
        images = test_volume(Path(tmp), size)
        grid = {s: f"{img.GetSize()} @ {tuple(round(v, 2) for v in img.GetSpacing())}"
                for s, img in images.items()}  # fmt: skip
        ours_s, ref_s = inference_times(config, images, device, repeats, reference)
    passes = 1 + len(config.inference.tta_flips)
    n_models = len(config.model_names())
    print(f"\ninference  volumes {grid}")
    print(f"inference  ours (full path, {passes} TTA passes, {n_models} models): "
          f"{ours_s:.2f} s/patient = {ours_s / n_models:.2f} s/volume")  # fmt: skip
    if ref_s is not None:
        print(f"inference  MONAI VNet sliding window (1 pass, same grids): {ref_s:.2f} "
              f"s/patient; ours/MONAI = {ours_s / ref_s:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/segmentation/vnet.yaml"))
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--repeats", type=int, default=3, help="timed inference repeats")
    parser.add_argument("--size", default="default", help="synthetic volume size preset")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--parts", default="train,infer", help="what to time: train, infer")
    parser.add_argument("--no-reference", action="store_true", help="skip MONAI VNet timings")
    parser.add_argument("--quality", action="store_true", help="also train and score Dice")
    parser.add_argument("--sites", default="A:100,B:30", help="cohort for --quality")
    parser.add_argument("--out", type=Path, default=None, help="folder for --quality outputs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_config(args.config, SegmentationConfig)
    device = select_device(args.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"{args.config}: device {device} ({name}), AMP {use_amp(device, config.train.amp)}, "
          f"torch threads {torch.get_num_threads()}, patch {list(config.train.patch_size)}, "
          f"batch {config.train.batch_size * config.train.patches_per_volume} patches")  # fmt: skip

    parts = {p.strip() for p in args.parts.split(",")}
    if "train" in parts:
        time_training(config, device, args.steps, not args.no_reference)
    if "infer" in parts:
        time_inference(config, str(device), args.size, args.repeats, not args.no_reference)
    if args.quality:
        out = args.out or Path(tempfile.mkdtemp(prefix="radiopipe-seg-bench-"))
        quality(config, args.sites, args.size, str(device), out)


if __name__ == "__main__":
    main()
