"""Training loop of one network: inner validation split, class weights, AMP on CUDA, resume.

The epoch bookkeeping (early stopping, history, a checkpoint per epoch) is
:func:`radiopipe.torchrun.loop.run_epochs`; this module supplies the CNN / ViT epoch.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rich.progress import Progress
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from torch import nn

from radiopipe.atomic import write_csv
from radiopipe.config.deep import DeepConfig
from radiopipe.deep.crops import CropStore
from radiopipe.deep.data import CropDataset, augmentation, loader
from radiopipe.deep.networks import build_network
from radiopipe.deep.predict import predict_logits
from radiopipe.errors import RadiopipeError
from radiopipe.progress import progress_bar
from radiopipe.torchrun.checkpoint import (
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
)
from radiopipe.torchrun.device import autocast, grad_scaler, use_amp
from radiopipe.torchrun.loop import EarlyStopping, EpochResult, LoopState, run_epochs
from radiopipe.torchrun.seeding import isolated_rng, labelled_seed

log = logging.getLogger(__name__)

LAST, BEST, HISTORY = "last.pt", "best.pt", "history.csv"


@dataclass
class FitResult:
    """A fitted network (best epoch's weights) and how its training went."""

    model: nn.Module
    best_epoch: int
    epochs_run: int
    history: pd.DataFrame


class Trainer:
    """Trains networks of one config on cached crops; every fit is seeded by its task name."""

    def __init__(
        self, config: DeepConfig, store: CropStore, config_sha256: str, device: torch.device
    ) -> None:
        self.config = config
        self.store = store
        self.config_sha256 = config_sha256
        self.device = device
        self.use_amp = use_amp(device, config.training.amp)

    def new_model(self, seed: int) -> nn.Module:
        """A freshly initialised network (initialisation seeded, global RNG left untouched)."""
        with isolated_rng():
            torch.manual_seed(seed)
            model = build_network(self.config.network, self.config.crop)
        return model.to(self.device)

    def fit(
        self,
        task: str,
        patients: list[str],
        labels: pd.Series,
        folder: Path,
        bar: Progress | None = None,
    ) -> FitResult:
        """Train on ``patients`` (minus an inner validation split); resume from ``folder``."""
        settings = self.config.training
        seed = labelled_seed(self.config.seed, task)
        fit_ids, val_ids = inner_split(patients, labels, settings.validation_fraction, seed)
        model = self.new_model(seed)
        optimiser = torch.optim.AdamW(
            model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
        scheduler = (
            torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=settings.epochs)
            if settings.scheduler == "cosine"
            else None
        )
        scaler = grad_scaler(self.device, self.use_amp)
        criterion = nn.CrossEntropyLoss(weight=self._class_weights(labels[fit_ids]))
        stopping = EarlyStopping(settings.patience, mode="min", min_delta=1e-6)
        state = LoopState.start(stopping)
        if (folder / LAST).is_file():
            saved = load_checkpoint(folder / LAST, self.config_sha256)
            state = LoopState.from_dict(saved)
            model.load_state_dict(saved["model"])
            optimiser.load_state_dict(saved["optimiser"])
            if scheduler is not None:
                scheduler.load_state_dict(saved["scheduler"])
            scaler.load_state_dict(saved["scaler"])
            log.info("%s: resuming after epoch %d", task, state.epoch)
        train_set = CropDataset(
            self.store,
            fit_ids,
            labels[fit_ids].tolist(),
            augmentation(self.config.augment, self.config.crop),
        )

        def one_epoch(epoch: int) -> EpochResult:
            epoch_seed = labelled_seed(seed, "epoch", epoch)
            train_loss = self._train_epoch(
                model, train_set, criterion, optimiser, scaler, epoch_seed
            )
            if scheduler is not None:
                scheduler.step()
            val_loss, val_auc = self._validate(model, val_ids, labels, criterion)
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                raise RadiopipeError(
                    f"{task}: training diverged in epoch {epoch} (loss {train_loss}, "
                    f"validation loss {val_loss}); lower training.learning_rate"
                )
            score = val_loss if settings.monitor == "val_loss" or math.isnan(val_auc) else -val_auc
            row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                   "val_auc": val_auc}  # fmt: skip
            return EpochResult(row, score)

        def save(state: LoopState) -> None:
            self._save(folder, state, model, optimiser, scheduler, scaler)

        with contextlib.nullcontext(bar) if bar else progress_bar(transient=True) as bar:
            job = bar.add_task(f"  {task}", total=settings.epochs, rate="", status="")
            bar.update(job, completed=state.epoch)

            def report(state: LoopState, result: EpochResult) -> None:
                row = result.row
                bar.update(
                    job, advance=1,
                    status=f"loss {row['train_loss']:.3f} val {row['val_loss']:.3f}/"
                    f"{row['val_auc']:.2f}",
                )  # fmt: skip
                log.info(
                    "%s epoch %d: train loss %.4f, val loss %.4f, val AUC %.3f%s",
                    task, row["epoch"], row["train_loss"], row["val_loss"], row["val_auc"],
                    " *" if state.history[-1]["improved"] else "",
                )  # fmt: skip

            run_epochs(
                state, settings.epochs, stopping, one_epoch,
                on_best=lambda: save_weights(folder / BEST, model), save=save,
                after_epoch=report, improved_column="improved",
            )  # fmt: skip
            bar.remove_task(job)
        frame = pd.DataFrame(state.history)
        write_csv(folder / HISTORY, frame)
        load_weights(folder / BEST, model)
        # best_epoch and epochs_run as 0-based epoch index and count (as logged before)
        return FitResult(model.eval(), state.best_epoch - 1, state.epoch, frame)

    def _save(self, folder, state: LoopState, model, optimiser, scheduler, scaler) -> None:
        """Write the training state of a finished epoch (``last.pt``)."""
        save_checkpoint(folder / LAST, {
            **state.to_dict(), "config_sha256": self.config_sha256,
            "model": model.state_dict(), "optimiser": optimiser.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else {},
            "scaler": scaler.state_dict(),
        })  # fmt: skip

    def _train_epoch(self, model, dataset, criterion, optimiser, scaler, seed) -> float:
        settings = self.config.training
        batches = loader(
            dataset,
            settings.batch_size,
            shuffle=True,
            seed=seed,
            num_workers=settings.num_workers,
            drop_last=len(dataset) > settings.batch_size,  # batch norm needs >1 sample
        )
        model.train()
        total, count = 0.0, 0
        with isolated_rng(self.device):
            torch.manual_seed(seed)  # dropout
            for batch in batches:
                images = batch["image"].to(self.device, non_blocking=True)
                targets = torch.as_tensor(batch["label"], device=self.device)
                optimiser.zero_grad(set_to_none=True)
                with autocast(self.device, self.use_amp):
                    loss = criterion(model(images), targets)
                scaler.scale(loss).backward()
                scaler.step(optimiser)
                scaler.update()
                total += float(loss.detach()) * len(targets)
                count += len(targets)
        return total / max(count, 1)

    def _validate(self, model, val_ids, labels, criterion) -> tuple[float, float]:
        logits = predict_logits(
            model, self.store, val_ids, self.device, self.config.training.inference_batch_size
        )
        targets = labels[val_ids].to_numpy()
        if not np.isfinite(logits).all():
            return float("nan"), float("nan")
        with torch.no_grad():
            loss = float(
                criterion(
                    torch.as_tensor(logits, dtype=torch.float32, device=self.device),
                    torch.as_tensor(targets, device=self.device),
                )
            )
        probs = torch.softmax(torch.as_tensor(logits), dim=1)[:, 1].numpy()
        auc = roc_auc_score(targets, probs) if len(set(targets)) == 2 else float("nan")
        return loss, float(auc)

    def _class_weights(self, labels: pd.Series) -> torch.Tensor | None:
        if not self.config.training.class_weighting:
            return None
        counts = np.bincount(labels.to_numpy(), minlength=2).astype(float)
        weights = counts.sum() / (2 * np.maximum(counts, 1))
        return torch.as_tensor(weights, dtype=torch.float32, device=self.device)


def inner_split(
    patients: list[str], labels: pd.Series, fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Stratified split of training patients into fitting and early-stopping validation sets."""
    y = labels[patients].to_numpy()
    counts = np.bincount(y, minlength=2)
    n_val = max(2, round(fraction * len(patients)))
    if len(patients) - n_val < 2:
        raise RadiopipeError(
            f"{len(patients)} training patients are too few for an inner validation split"
        )
    stratify = y if counts.min() >= 2 and n_val >= 2 else None
    fit_ids, val_ids = train_test_split(
        list(patients), test_size=n_val, stratify=stratify, random_state=seed
    )
    return list(fit_ids), list(val_ids)
