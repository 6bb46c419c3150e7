"""``segment train``: patients of split train only, a seeded division, one model per sequence."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from radiopipe.atomic import write_csv
from radiopipe.cohort.manifest import Cohort
from radiopipe.config import config_hash, load_config
from radiopipe.config.segmentation import SegmentationConfig
from radiopipe.errors import RadiopipeError
from radiopipe.hashing import file_sha256
from radiopipe.runs import RunFolder
from radiopipe.segment import model_folder as ckpt
from radiopipe.segment.data import TRAIN_ROLE, Division, case_records, divide, training_patients
from radiopipe.segment.trainer import ModelSpec, Trainer, TrainState
from radiopipe.torchrun.device import cpu_threads, select_device

log = logging.getLogger(__name__)


def prepare_folder(out: Path, config: SegmentationConfig, resume: bool) -> RunFolder:
    """The model folder; refuse to overwrite training state unless resuming with equal settings."""
    folder = RunFolder.at(out)
    saved_config = folder.path(ckpt.CONFIG_FILE)
    started = saved_config.is_file() or any(folder.root.glob(f"*/{ckpt.CHECKPOINT_FILE}"))
    if started and not resume:
        raise RadiopipeError(
            f"{out}: already holds a segmentation training run; pass --resume to continue it "
            "or choose another --out folder"
        )
    if resume and saved_config.is_file():
        saved = load_config(saved_config, SegmentationConfig)
        if config_hash(saved) != config_hash(config):
            raise RadiopipeError(
                f"{out}: the config given differs from the one this run was started with "
                f"({saved_config}); resume with that file or start a new --out folder"
            )
    return folder


def load_division(folder: RunFolder, cohort: Cohort, config: SegmentationConfig) -> Division:
    """The saved division when resuming, else a new seeded one over the training patients."""
    path = folder.path(ckpt.DIVISION_FILE)
    if path.is_file():
        frame = pd.read_csv(path, dtype=str)
        return Division(
            train=list(frame.loc[frame["role"] == TRAIN_ROLE, "patient_id"]),
            validation=list(frame.loc[frame["role"] == "validation", "patient_id"]),
        )
    usable = set()
    for name in config.model_names():
        inputs = config.model_inputs(name)
        usable |= set(training_patients(cohort, images=inputs, masks=inputs[:1]))
    patients = [p for p in cohort.patients if p in usable]
    division = divide(patients, config.data.validation_fraction, config.seed)
    write_csv(path, division.frame())
    return division


def train(
    cohort: Cohort,
    config: SegmentationConfig,
    out: str | Path,
    resume: bool = False,
    stop_after: int | None = None,
    device: str | None = None,
    show_progress: bool = True,
) -> dict[str, TrainState]:
    """Train every model of ``config`` into ``out``; return each model's final state.

    ``stop_after`` ends this call after that many epochs per model (the run stays resumable).
    """
    folder = prepare_folder(Path(out), config, resume)
    folder.record(
        "segment train", config=config, seed=config.seed, manifest=cohort.source,
        extra={"resumed": resume},
    )  # fmt: skip
    handler = folder.attach_log()
    try:
        with cpu_threads(config.train.cpu_threads):
            return _train_all(cohort, config, folder, resume, stop_after, device, show_progress)
    finally:
        logging.getLogger("radiopipe").removeHandler(handler)
        handler.close()


def _train_all(cohort, config, folder, resume, stop_after, device, show_progress):
    torch_device = select_device(
        device or config.train.device, "--device" if device else "train.device"
    )
    log.info("training on %s", torch_device)
    division = load_division(folder, cohort, config)
    card_models: dict[str, dict] = {}
    states: dict[str, TrainState] = {}
    for index, name in enumerate(config.model_names()):
        inputs = config.model_inputs(name)
        spec = ModelSpec(name, inputs, inputs[0], index, folder.path(name))
        spec.folder.mkdir(parents=True, exist_ok=True)
        usable = set(training_patients(cohort, images=inputs, masks=inputs[:1]))
        fit_on = [p for p in division.train if p in usable]
        check_on = [p for p in division.validation if p in usable]
        if not fit_on or not check_on:
            raise RadiopipeError(
                f"model {name}: {len(fit_on)} training and {len(check_on)} validation patients "
                "have its images and mask; both need at least one"
            )
        trainer = Trainer(
            spec, config, case_records(cohort, fit_on, inputs, inputs[0]),
            case_records(cohort, check_on, inputs, inputs[0]), torch_device,
        )  # fmt: skip
        if resume:
            trainer.restore()
        state = trainer.fit(stop_after=stop_after, show_progress=show_progress)
        states[name] = state
        card_models[name] = _card_entry(spec, state)
        ckpt.write_card(folder.root, config, card_models)
    return states


def _card_entry(spec: ModelSpec, state: TrainState) -> dict:
    weights = spec.folder / ckpt.WEIGHTS_FILE
    return {
        "inputs": spec.inputs,
        "label": spec.label,
        "weights": f"{spec.name}/{ckpt.WEIGHTS_FILE}",
        "weights_sha256": file_sha256(weights) if weights.is_file() else None,
        "best_val_dice": state.best_dice,
        "best_epoch": state.best_epoch,
        "epochs": state.epoch,
        "done": state.done,
        "stop_reason": state.stop_reason,
    }
