"""Training loop of one V-Net: Dice+CE with deep supervision, validation, checkpoints, resume.

The epoch bookkeeping (early stopping, history, a checkpoint per epoch) is
:func:`radiopipe.torchrun.loop.run_epochs`; this module supplies the V-Net epoch.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from monai.data import CacheDataset, DataLoader
from monai.losses import DeepSupervisionLoss, DiceCELoss

from radiopipe.atomic import write_csv
from radiopipe.config import config_hash
from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.progress import progress_bar
from radiopipe.segment import model_folder as ckpt
from radiopipe.segment.infer import dice, window_probability
from radiopipe.segment.network import build_network
from radiopipe.segment.transforms import preprocessing, training
from radiopipe.torchrun.checkpoint import load_checkpoint, save_checkpoint, save_weights
from radiopipe.torchrun.device import autocast, grad_scaler, use_amp
from radiopipe.torchrun.loop import EarlyStopping, EpochResult, LoopState, run_epochs
from radiopipe.torchrun.seeding import derived_seed, isolated_rng, restore_rng, rng_state

log = logging.getLogger(__name__)

RESUME_REMEDY = "resume with the model folder's config.resolved.yaml or start a new --out folder"


class TrainState(LoopState):
    """A V-Net's loop state; its score is the validation Dice."""

    @property
    def best_dice(self) -> float:
        """Best validation Dice so far (-inf before the first validation)."""
        return self.best_score


@dataclass
class ModelSpec:
    """One model to train: its name, input sequences, label sequence, index and folder."""

    name: str
    inputs: list[str]
    label: str
    index: int
    folder: Path


class Trainer:
    """Trains one model; every finished epoch leaves a complete checkpoint on disk."""

    def __init__(
        self,
        spec: ModelSpec,
        config: SegmentationConfig,
        train_records: list[dict],
        val_records: list[dict],
        device: torch.device,
    ) -> None:
        self.spec, self.config, self.device = spec, config, device
        self.amp = use_amp(device, config.train.amp)
        with isolated_rng(device):
            torch.manual_seed(derived_seed(config.seed, spec.index))
            self.model = build_network(config.network, len(spec.inputs)).to(device)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.train.learning_rate,
            weight_decay=config.train.weight_decay,
        )  # fmt: skip
        self.scaler = grad_scaler(device, self.amp)
        base = DiceCELoss(
            to_onehot_y=True, softmax=True, batch=True,
            lambda_dice=config.loss.dice_weight, lambda_ce=config.loss.ce_weight,
        )  # fmt: skip
        self.loss = DeepSupervisionLoss(base, weights=config.loss.deep_supervision_weights)
        workers = config.data.num_workers
        cache = {"cache_rate": config.data.cache_rate, "num_workers": max(workers, 1)}
        self.train_data = CacheDataset(
            train_records, training(config, spec.inputs), progress=False, **cache
        )
        self.val_data = CacheDataset(
            val_records, preprocessing(config, spec.inputs, with_label=True), progress=False,
            **cache,
        )  # fmt: skip
        self.stopping = EarlyStopping(
            config.train.patience, mode="max", min_delta=config.train.min_delta,
            every=config.train.validate_every,
        )  # fmt: skip
        self.state = TrainState.start(self.stopping)
        self.key = config_hash(config)

    # --- checkpoints -------------------------------------------------------------------------

    def save(self, state: LoopState | None = None) -> None:
        """Write the full training state atomically (weights-only format)."""
        s = self.state if state is None else state
        save_checkpoint(self.spec.folder / ckpt.CHECKPOINT_FILE, {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(), "rng": rng_state(),
            **s.to_dict(), "config_sha256": self.key,
        })  # fmt: skip
        write_csv(self.spec.folder / ckpt.HISTORY_FILE, pd.DataFrame(s.history))

    def restore(self) -> bool:
        """Continue from the checkpoint if there is one; False when starting afresh."""
        path = self.spec.folder / ckpt.CHECKPOINT_FILE
        if not path.is_file():
            return False
        saved = load_checkpoint(path, self.key, remedy=RESUME_REMEDY)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scaler.load_state_dict(saved["scaler"])
        restore_rng(saved["rng"])
        self.state = TrainState.from_dict(saved)
        log.info("%s: resuming after epoch %d", self.spec.name, self.state.epoch)
        return True

    # --- the loop ----------------------------------------------------------------------------

    def learning_rate(self, epoch: int) -> float:
        """Learning rate of a (0-based) epoch under the configured schedule."""
        train = self.config.train
        progress = epoch / train.max_epochs
        if train.lr_schedule == "poly":
            return train.learning_rate * (1 - progress) ** 0.9
        if train.lr_schedule == "cosine":
            return train.learning_rate * 0.5 * (1 + math.cos(math.pi * progress))
        return train.learning_rate

    def fit(self, stop_after: int | None = None, show_progress: bool = True) -> TrainState:
        """Train until early stopping, ``max_epochs``, or ``stop_after`` epochs in this call."""
        train = self.config.train
        with isolated_rng(self.device), progress_bar() as bar:
            epochs = bar.add_task(
                f"V-Net {self.spec.name}", total=train.max_epochs, completed=self.state.epoch,
                rate="", status="", visible=show_progress,
            )  # fmt: skip
            steps = bar.add_task("  batches", total=None, rate="", status="", visible=False)

            def report(state: LoopState, result: EpochResult) -> None:
                row = result.row
                log.info(
                    "%s epoch %d: loss %.4f, validation Dice %.4f (best %.4f at %d), %.1f s",
                    self.spec.name, state.epoch, row["train_loss"], row["val_dice"],
                    state.best_score, state.best_epoch, row["seconds"],
                )  # fmt: skip
                bar.update(
                    epochs, advance=1,
                    status=f"loss {row['train_loss']:.3f} dice {row['val_dice']:.3f} "
                    f"best {state.best_score:.3f}",
                )  # fmt: skip

            run_epochs(
                self.state, train.max_epochs, self.stopping,
                run_epoch=lambda epoch: self._epoch(epoch, bar, steps, show_progress),
                on_best=lambda: save_weights(self.spec.folder / ckpt.WEIGHTS_FILE, self.model),
                save=self.save, after_epoch=report, stop_after=stop_after,
            )  # fmt: skip
        return self.state

    def _epoch(self, epoch: int, bar, steps: int, show_progress: bool) -> EpochResult:
        train = self.config.train
        seed = derived_seed(self.config.seed, self.spec.index, epoch)
        torch.manual_seed(seed)
        lr = self.learning_rate(epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        generator = torch.Generator().manual_seed(seed)
        loader = DataLoader(
            self.train_data, batch_size=train.batch_size, shuffle=True, generator=generator,
            num_workers=self.config.data.num_workers,
        )  # fmt: skip
        start, losses, patches = time.perf_counter(), [], 0
        total = len(loader) * train.repeats_per_epoch
        bar.reset(steps, total=total, visible=show_progress)
        self.model.train()
        for _ in range(train.repeats_per_epoch):
            for batch in loader:
                losses.append(self._step(batch))
                patches += int(batch["image"].shape[0])
                bar.update(steps, advance=1, status=f"loss {losses[-1]:.3f}")
        due = (epoch + 1) % train.validate_every == 0 or epoch + 1 == train.max_epochs
        val = self.validate() if due else float("nan")
        seconds = time.perf_counter() - start
        row = {
            "epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_dice": val, "lr": lr,
            "seconds": seconds, "patches_per_s": patches / seconds,
        }  # fmt: skip
        return EpochResult(row, None if math.isnan(val) else val)

    def _step(self, batch: dict) -> float:
        image = batch["image"].to(self.device)
        label = batch["label"].to(self.device)
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.amp):
            output = self.model(image)
        loss = self.loss(output, label)
        self.scaler.scale(loss).backward()
        if self.config.train.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    def validate(self) -> float:
        """Mean Dice of the validation cases on the model's grid (no TTA, no post-processing)."""
        self.model.eval()
        threshold = self.config.inference.threshold
        scores = []
        for item in self.val_data:
            probability = window_probability(
                self.model, item["image"].as_tensor(), self.config, self.device, self.amp
            )
            scores.append(dice(probability.cpu() >= threshold, item["label"][0].as_tensor() > 0))
        self.model.train()
        return float(np.mean(scores))
