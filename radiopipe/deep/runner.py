"""The deep library entry (``radiopipe deep train``): crops, one fit per task of the design,
predictions, model, overlays. The pipeline's stage adapter is :mod:`radiopipe.deep.stage`.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from radiopipe.atomic import write_json, write_parquet
from radiopipe.cohort.manifest import Cohort, read_manifest
from radiopipe.config import config_hash, save_resolved
from radiopipe.config.deep import DeepConfig
from radiopipe.contracts import OOF_SPLITS, DeepModelLayout
from radiopipe.deep.crops import CropStore
from radiopipe.deep.design import (
    TEST_SPLITS,
    Task,
    development_patients,
    plan_tasks,
    read_folds,
    resolve_design,
)
from radiopipe.deep.explain_run import explain_run
from radiopipe.deep.predict import (
    predict_proba,
    predictions_frame,
    save_model,
)
from radiopipe.deep.trainer import BEST, Trainer
from radiopipe.errors import ManifestError, RadiopipeError
from radiopipe.hashing import file_sha256
from radiopipe.progress import progress_bar
from radiopipe.runs import RESOLVED_CONFIG_FILE, RunFolder
from radiopipe.stats.thresholds import youden_threshold
from radiopipe.torchrun.checkpoint import load_weights
from radiopipe.torchrun.device import select_device

log = logging.getLogger(__name__)

STATE_FILE = "deep_run.json"
PREDICTIONS, THRESHOLDS = DeepModelLayout.FILES["predictions"], DeepModelLayout.FILES["thresholds"]
OWNED = ("checkpoints", "parts", "model", "explanations", PREDICTIONS, THRESHOLDS, STATE_FILE)


@dataclass
class DeepRun:
    """What a finished ``deep train`` produced."""

    folder: Path
    predictions: pd.DataFrame
    design: str  # fixed_split or nested_cv
    tasks: list[Task]
    threshold: float  # max Youden of the out-of-fold rows


def train_deep(
    manifest: str | Path,
    config: DeepConfig,
    out: str | Path,
    folds: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    design: str = "auto",
) -> DeepRun:
    """Train the configured network on the radiomics splits and write its predictions.

    ``folds`` is the radiomics run's ``folds.csv`` (its out-of-fold fits are reproduced fold
    for fold); ``design`` is ``auto``, ``fixed_split`` or ``nested_cv`` as in the model config.
    """
    cohort = read_manifest(manifest)
    _check_sequences(cohort, config)
    run = RunFolder.at(out)
    state = run_state(cohort, config, folds, design)
    design = state["design"]
    _claim_folder(run, state, resume, overwrite)
    # The folder describes its model (``deep explain --run`` and the report read it).
    save_resolved(config, run.path(RESOLVED_CONFIG_FILE))
    return _train(cohort, config, run, design, folds, state["config_sha256"])


def _train(
    cohort: Cohort, config: DeepConfig, run: RunFolder, design: str, folds, config_sha: str
) -> DeepRun:
    table = cohort.table[["patient_id", "split", "label"]].copy()
    fold_table = read_folds(folds, list(table["patient_id"])) if folds is not None else None
    used = set(
        fold_table["patient_id"] if fold_table is not None else development_patients(table, design)
    ) | set(table.loc[table["split"].isin(TEST_SPLITS), "patient_id"])
    table = table.loc[table["patient_id"].isin(used)]
    labels = _labels(table)
    with_labels = table.assign(label=table["patient_id"].map(labels))
    tasks = plan_tasks(with_labels, design, fold_table, config.training.oof_folds, config.seed)
    device = select_device(config.training.device, "training.device")
    log.info("deep %s (%s design): %d task(s), %d patients, device %s",
             config.model_name, design, len(tasks), len(labels), device)  # fmt: skip
    store = CropStore(run.path("crops"), config.crop, in_memory=config.training.cache_crops)
    store.build(cohort, list(labels.index))
    trainer = Trainer(config, store, config_sha, device)
    parts = []
    with progress_bar() as bar:
        job = bar.add_task(f"Training {config.model_name}", total=len(tasks), rate="", status="")
        for task in tasks:
            parts.append(_run_task(task, trainer, labels, run, bar))
            bar.advance(job)
    predictions = pd.concat(parts, ignore_index=True)
    write_parquet(
        run.path(PREDICTIONS),
        predictions,
        metadata={"model": config.model_name, "design": design, "config_sha256": config_sha},
    )
    # The operating point comes from out-of-fold rows only, as for the radiomics models.
    oof = predictions.loc[predictions["split"].isin(OOF_SPLITS)]
    point = youden_threshold(oof["label"], oof["probability"], f"{config.model_name} out-of-fold")
    threshold = point.threshold
    write_json(run.path(THRESHOLDS), {config.model_name: threshold})
    final = trainer.new_model(0)
    load_weights(run.path("checkpoints", "final", BEST), final)
    record = {"threshold": threshold, "trained_on": len(tasks[0].train), "design": design}
    save_model(run.path("model"), final, config, record)
    if config.explain.enabled and config.explain.patients_per_class > 0:
        explain_run(run.root, config, device)
    return DeepRun(run.root, predictions, design, tasks, threshold)


def _run_task(task: Task, trainer: Trainer, labels: pd.Series, run: RunFolder, bar) -> pd.DataFrame:
    """Fit one task (or reuse its finished predictions) and return its prediction rows."""
    part = run.path("parts", f"{task.name}.parquet")
    if part.is_file():
        log.info("%s: already finished, reusing %s", task.name, part)
        return pd.read_parquet(part)
    result = trainer.fit(
        task.name, list(task.train), labels, run.path("checkpoints", task.name), bar
    )
    patients = [p for p, _, _ in task.predict]
    probs = predict_proba(
        result.model, trainer.store, patients, trainer.device,
        trainer.config.training.inference_batch_size,
    )  # fmt: skip
    frame = predictions_frame(
        [
            {"patient_id": p, "split": s, "fold": f, "model": trainer.config.model_name,
             "probability": prob, "label": int(labels[p])}
            for (p, s, f), prob in zip(task.predict, probs, strict=True)
        ]
    )  # fmt: skip
    write_parquet(part, frame)
    log.info("%s: best epoch %d of %d", task.name, result.best_epoch, result.epochs_run)
    return frame


def run_state(cohort: Cohort, config: DeepConfig, folds, design: str) -> dict:
    """What a run folder must agree on to be resumed (its ``deep_run.json``)."""
    return {
        "config_sha256": config_hash(config),
        "design": resolve_design(design, cohort.table["split"]),
        "folds_sha256": file_sha256(folds) if folds is not None else None,
    }


def _claim_folder(run: RunFolder, state: dict, resume: bool, overwrite: bool) -> None:
    """Refuse to mix runs: a folder holds one deep run unless resumed or overwritten."""
    marker = run.path(STATE_FILE)
    if marker.is_file() and not overwrite:
        if not resume:
            raise RadiopipeError(
                f"{run.root} already holds a deep run; pass --resume to continue it or "
                "--overwrite to start again"
            )
        previous = json.loads(marker.read_text(encoding="utf-8"))
        changed = [k for k in state if previous.get(k) != state[k]]
        if changed:
            raise RadiopipeError(
                f"{run.root}: cannot resume, the {', '.join(changed)} changed since the run "
                "started; use the same config and folds, or --overwrite"
            )
        return
    if overwrite:
        for name in OWNED:
            target = run.path(name)
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    write_json(marker, state)


def _check_sequences(cohort: Cohort, config: DeepConfig) -> None:
    missing = [s for s in config.crop.sequences if s not in cohort.sequences]
    if missing:
        raise ManifestError(
            f"{cohort.source}: no image column for sequence(s) {', '.join(missing)} named in "
            f"crop.sequences; the manifest has {', '.join(cohort.sequences)}"
        )


def _labels(table: pd.DataFrame) -> pd.Series:
    bad = table.loc[~table["label"].isin(["0", "1"])]
    if not bad.empty:
        listed = ", ".join(
            f"{p} ({v!r})" for p, v in zip(bad["patient_id"], bad["label"], strict=True)
        )
        raise ManifestError(f"labels must be 0 or 1 for every patient used; got {listed}")
    return table.set_index("patient_id")["label"].astype(int)


def __getattr__(name: str):
    """``run_deep_stage``, the stage adapter, moved to :mod:`radiopipe.deep.stage`."""
    if name == "run_deep_stage":
        from radiopipe.deep.stage import run_deep_stage

        return run_deep_stage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
