"""Stages that decide which patients and volumes the later stages see: cohort, validate,
preprocess, segment and design.

cohort, preprocess and segment each write a ``manifest.csv``; a later stage reads the latest
one (:data:`radiopipe.pipeline.engine.MANIFEST`). The design stage fixes, once, the splits'
design, the outer folds and the reference model that every model family uses.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from radiopipe.atomic import atomic_path, write_csv
from radiopipe.cohort.manifest import read_manifest, write_manifest
from radiopipe.config.pipeline import (
    CohortStep,
    PreprocessStep,
    SegmentStep,
    ValidateStep,
    stage_config,
)
from radiopipe.errors import RadiopipeError
from radiopipe.pipeline.engine import MANIFEST, Context, From, Outputs, Stage, StageCall

if TYPE_CHECKING:
    from radiopipe.segment.stage import SegmentationStage

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.csv"
MAX_LISTED_PROBLEMS = 20


def current_manifest(ctx: Context) -> Path:
    """The manifest written by the latest stage that writes one."""
    return MANIFEST.resolve(ctx)[1]


def cohort_stage(step: CohortStep, workers: int | None, overwrite: bool = False) -> Stage:
    """The cohort: a synthetic one generated here, or the user's manifest rewritten here.

    ``overwrite`` lets a synthetic cohort replace one of other settings in the folder.
    """

    def run(call: StageCall) -> Outputs:
        if step.synth is not None:
            from radiopipe.synth.cohort import generate_cohort

            manifest = generate_cohort(
                call.folder,
                workers=workers,
                overwrite=overwrite,
                show_progress=True,
                **step.synth.model_dump(),
            )
            return {"manifest": manifest}
        cohort = read_manifest(call["manifest"])
        manifest = write_manifest(cohort, call.folder / MANIFEST_FILE)
        return {"manifest": manifest} | carry_truth(call["manifest"], manifest)

    if step.synth is not None:
        from radiopipe.synth.writer import IMAGES_DIR, MASKS_DIR

        return Stage(
            "cohort", run, settings=step.synth, outputs=("manifest",),
            scratch=(IMAGES_DIR, MASKS_DIR), command="synth",
        )  # fmt: skip
    return Stage("cohort", run, settings=step, inputs={"manifest": step.manifest},
                 outputs=("manifest",))  # fmt: skip


def validate_stage(step: ValidateStep) -> Stage:
    """Every problem of the cohort in ``problems.csv``; stops the run when there is any."""

    def run(call: StageCall) -> Outputs:
        from radiopipe.cohort.validate import problems_frame, validate_cohort

        manifest = call["manifest"]
        problems = validate_cohort(
            read_manifest(manifest), workers=step.workers, show_progress=True
        )
        table = write_csv(call.folder / "problems.csv", problems_frame(problems))
        if problems and step.stop_on_problems:
            listed = "\n".join(f"  - {p}" for p in problems[:MAX_LISTED_PROBLEMS])
            more = len(problems) - MAX_LISTED_PROBLEMS
            tail = f"\n  ... and {more} more" if more > 0 else ""
            raise RadiopipeError(
                f"{manifest}: {len(problems)} problem(s) in the cohort (all in {table}):\n"
                f"{listed}{tail}\nFix them, or set validate.stop_on_problems: false."
            )
        if problems:
            log.warning("%d cohort problem(s) listed in %s; continuing", len(problems), table)
        return {"problems": table}

    return Stage(
        "validate", run, settings=step, inputs={"manifest": From("cohort", "manifest")},
        outputs=("problems",),
    )  # fmt: skip


def design_stage(settings) -> Stage:
    """``design/design.json`` and ``design/folds.csv``: the design every model family uses.

    ``settings`` is a :class:`radiopipe.modeling.design.DesignSettings` (from the model
    settings: design, outer folds and repeats, seed; the reference model).
    """

    def run(call: StageCall) -> Outputs:
        from radiopipe.modeling.design import design_from_manifest, write_design

        design, folds = design_from_manifest(call["manifest"], settings)
        log.info(
            "design %s: %d development patients, %d folds x %d repeats (seed %d)",
            design.design, design.n_development, design.folds, design.repeats, design.seed,
        )  # fmt: skip
        return write_design(call.folder, design, folds)

    return Stage("design", run, settings=settings, inputs={"manifest": MANIFEST},
                 outputs=("design", "folds"))  # fmt: skip


def preprocess_stage(
    step: PreprocessStep,
    seed: int | None,
    settings=None,
    on_result: Callable | None = None,
    strict: bool = True,
) -> Stage:
    """Resampling, bias correction, normalisation and registration of every patient.

    ``settings`` (a PreprocessSettings) replaces the ones read from ``step.config``;
    ``on_result`` gets the summary. Failed patients (not allowed) stop the stage when
    ``strict`` (a run); otherwise (the command) a stage with failed patients ends incomplete,
    so the next call retries them (finished patients are reused).
    """
    from radiopipe.config.preprocess import PreprocessSettings

    if settings is None:
        settings = stage_config(step.config, PreprocessSettings, seed)

    def run(call: StageCall) -> Outputs:
        from radiopipe.preprocess.stage import run_preprocess

        cohort = read_manifest(call["manifest"])
        summary = run_preprocess(cohort, settings, call.folder, workers=step.workers)
        call.provenance |= {"workers": step.workers, "patients": len(cohort.table)}
        if on_result is not None:
            on_result(summary)
        if summary.failures and not strict:
            call.complete = False  # the command: the next call retries the failed patients
        elif summary.failures and not step.allow_failures:
            raise RadiopipeError(
                f"preprocessing failed for {len(summary.failures)} patient(s), listed in "
                f"{summary.failures_file}; fix them or set preprocess.allow_failures: true"
            )
        return {"manifest": summary.manifest} | carry_truth(call["manifest"], summary.manifest)

    from radiopipe.preprocess.stage import PATIENTS_DIR

    return Stage(
        "preprocess", run, settings=settings, inputs={"manifest": MANIFEST},
        outputs=("manifest",), scratch=(PATIENTS_DIR,),
        identity={"preprocess": settings.model_dump(mode="json"), "workers": step.workers},
    )  # fmt: skip


def segment_stage(
    step: SegmentStep, on_result: Callable | None = None, strict: bool = True
) -> Stage | None:
    """Automatic masks from a trained V-Net; None when the model is absent and may be skipped.

    The new manifest points ``mask_<seq>`` at the automatic masks and ``mask2_<seq>`` at the
    input's masks, so robustness measures how far features move between the two. ``on_result``
    gets the :class:`radiopipe.segment.stage.SegmentationStage`. Failed patients (not allowed)
    stop the stage when ``strict`` (a run); otherwise (``radiopipe segment predict``) the stage
    ends incomplete, so the next call retries them (finished patients are reused).
    """
    if step.train is not None:
        return _train_and_segment_stage(step, step.train)
    assert step.model is not None  # SegmentStep: exactly one of model and train
    model = step.model
    card = model / "segmentation_model.json"
    if not card.is_file():
        if step.if_missing == "skip":
            log.warning("segment: no trained model at %s; using the manifest's masks", step.model)
            return None
        raise RadiopipeError(
            f"{step.model}: no trained segmentation model (segmentation_model.json missing); "
            "train one with `radiopipe segment train`"
        )

    def run(call: StageCall) -> Outputs:
        from radiopipe.segment.stage import segment_cohort

        result = segment_cohort(call["manifest"], model, call.folder, step.settings)
        call.provenance |= result.provenance()
        if on_result is not None:
            on_result(result)
        if not strict and not result.failures.empty and not step.allow_failures:
            call.complete = False  # the command: the next call retries the failed patients
            return _segment_outputs(result, call["manifest"], call.folder, True)
        return _segment_outputs(result, call["manifest"], call.folder, step.allow_failures)

    return Stage(
        "segment", run, settings=step, inputs={"manifest": MANIFEST, "model_card": card},
        outputs=("manifest", "qc"), scratch=("masks",),
        identity={"model": str(step.model), **step.settings.model_dump(mode="json")},
    )  # fmt: skip


TRUTH_FILE = "truth.csv"  # a synthetic cohort's known answer (radiopipe.stats.known_answer)
TRAINED_MODEL_DIR = "model"  # segment/model/: the V-Net trained in the run (segment.train)


def _train_and_segment_stage(step: SegmentStep, train_config: Path) -> Stage:
    """Train the V-Net on the training patients of the stage's input, then segment everyone."""

    def run(call: StageCall) -> Outputs:
        from radiopipe.config import load_config
        from radiopipe.config.segmentation import SegmentationConfig
        from radiopipe.segment.runner import train
        from radiopipe.segment.stage import segment_cohort

        folder = call.folder
        model = folder / TRAINED_MODEL_DIR
        shutil.rmtree(model, ignore_errors=True)  # the stage reruns: its inputs changed
        config = load_config(call["train_config"], SegmentationConfig)
        log.info("segment: training the V-Net of %s on the training patients", train_config)
        device = None if step.settings.device == "auto" else step.settings.device
        train(read_manifest(call["manifest"]), config, model, device=device)
        result = segment_cohort(call["manifest"], model, folder, step.settings)
        call.provenance |= result.provenance()
        outputs = _segment_outputs(result, call["manifest"], folder, step.allow_failures)
        return outputs | {"model_card": model / "segmentation_model.json"}

    return Stage(
        "segment", run, settings=step,
        inputs={"manifest": MANIFEST, "train_config": train_config},
        outputs=("manifest", "qc", "model_card"), scratch=("masks", TRAINED_MODEL_DIR),
        identity={"train": str(train_config), **step.settings.model_dump(mode="json")},
    )  # fmt: skip


def _segment_outputs(
    result: SegmentationStage, manifest: Path, folder: Path, allow_failures: bool
) -> Outputs:
    """The segment stage's outputs; an error naming the first failure unless allowed.

    A synthetic cohort's ``truth.csv`` travels with the manifest (:func:`carry_truth`).
    """
    if not result.failures.empty and not allow_failures:
        first = result.failures.iloc[0]
        raise RadiopipeError(
            f"segmentation failed for {len(result.failures)} patient(s), listed in "
            f"{folder / 'failures.csv'}; the first: patient {first['patient_id']}: "
            f"{first['error']}. Fix them or set segment.allow_failures: true"
        )
    outputs = {"manifest": result.manifest, "qc": folder / "qc.csv"}
    if result.evaluation is not None:
        outputs |= {f"evaluation_{i}": p for i, p in enumerate(result.evaluation.files)}
    return outputs | carry_truth(manifest, result.manifest)


def carry_truth(source: Path | str, manifest: Path | str) -> Outputs:
    """Copy a synthetic cohort's ``truth.csv`` from beside ``source`` to beside the stage's
    new ``manifest`` (so evaluate finds the known answer); ``{"truth": path}`` or nothing."""
    truth = Path(source).parent / TRUTH_FILE
    target = Path(manifest).parent / TRUTH_FILE
    if not truth.is_file() or truth.resolve() == target.resolve():
        return {}
    with atomic_path(target) as tmp:
        shutil.copyfile(truth, tmp)
    return {"truth": target}
