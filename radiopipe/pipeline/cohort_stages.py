"""Stages that decide which volumes the later stages see: cohort, validate, preprocess, segment.

Each writes a ``manifest.csv`` that the next stage reads (see :func:`current_manifest`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from radiopipe.atomic import write_csv
from radiopipe.cohort.manifest import read_manifest, write_manifest
from radiopipe.config.pipeline import (
    CohortStep,
    PreprocessStep,
    SegmentStep,
    ValidateStep,
    stage_config,
)
from radiopipe.errors import RadiopipeError
from radiopipe.stages import Context, Outputs, Stage

log = logging.getLogger(__name__)

MANIFEST = "manifest.csv"
# Stages that may replace the manifest, latest first.
MANIFEST_STAGES = ("segment", "preprocess", "cohort")
MAX_LISTED_PROBLEMS = 20


def current_manifest(ctx: Context) -> Path:
    """The manifest written by the latest stage that writes one."""
    for stage in MANIFEST_STAGES:
        if ctx.has(stage, "manifest"):
            return ctx.output(stage, "manifest")
    raise RadiopipeError("no stage of this run has written a manifest yet")


def cohort_stage(step: CohortStep, workers: int | None) -> Stage:
    """The cohort: a synthetic one generated here, or the user's manifest rewritten here."""

    def run(ctx: Context, folder: Path) -> Outputs:
        if step.synth is not None:
            from radiopipe.synth.cohort import generate_cohort

            manifest = generate_cohort(
                folder, workers=workers, show_progress=True, **step.synth.model_dump()
            )
            return {"manifest": manifest}
        cohort = read_manifest(step.manifest)
        return {"manifest": write_manifest(cohort, folder / MANIFEST)}

    settings = {"synth": step.synth.model_dump(mode="json") if step.synth else None}
    return Stage(
        "cohort",
        run,
        settings=settings,
        reads=lambda ctx: [step.manifest] if step.manifest else [],
    )


def validate_stage(step: ValidateStep) -> Stage:
    """Every problem of the cohort in ``problems.csv``; stops the run when there is any."""

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.cohort.validate import problems_frame, validate_cohort

        manifest = ctx.output("cohort", "manifest")
        problems = validate_cohort(
            read_manifest(manifest), workers=step.workers, show_progress=True
        )
        table = write_csv(folder / "problems.csv", problems_frame(problems))
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
        "validate",
        run,
        settings=step.model_dump(mode="json"),
        reads=lambda ctx: [ctx.output("cohort", "manifest")],
    )


def preprocess_stage(step: PreprocessStep, seed: int | None) -> Stage:
    """Resampling, bias correction, normalisation and registration of every patient."""
    from radiopipe.config.preprocess import PreprocessSettings

    settings = stage_config(step.config, PreprocessSettings, seed)

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.preprocess.stage import run_preprocess

        cohort = read_manifest(current_manifest(ctx))
        summary = run_preprocess(cohort, settings, folder, workers=step.workers)
        if summary.failures and not step.allow_failures:
            raise RadiopipeError(
                f"preprocessing failed for {len(summary.failures)} patient(s), listed in "
                f"{summary.failures_file}; fix them or set preprocess.allow_failures: true"
            )
        return {"manifest": summary.manifest}

    return Stage(
        "preprocess",
        run,
        settings={"preprocess": settings.model_dump(mode="json"), "workers": step.workers},
        reads=lambda ctx: [current_manifest(ctx)],
    )


def segment_stage(step: SegmentStep) -> Stage | None:
    """Automatic masks from a trained V-Net; None when the model is absent and may be skipped.

    The new manifest points ``mask_<seq>`` at the automatic masks and ``mask2_<seq>`` at the
    input's masks, so robustness measures how far features move between the two.
    """
    card = step.model / "segmentation_model.json"
    if not card.is_file():
        if step.if_missing == "skip":
            log.warning("segment: no trained model at %s; using the manifest's masks", step.model)
            return None
        raise RadiopipeError(
            f"{step.model}: no trained segmentation model (segmentation_model.json missing); "
            "train one with `radiopipe segment train`"
        )

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.segment.stage import segment_cohort

        result = segment_cohort(current_manifest(ctx), step.model, folder, step.settings)
        if not result.failures.empty and not step.allow_failures:
            first = result.failures.iloc[0]
            raise RadiopipeError(
                f"segmentation failed for {len(result.failures)} patient(s), listed in "
                f"{folder / 'failures.csv'}; the first: patient {first['patient_id']}: "
                f"{first['error']}. Fix them or set segment.allow_failures: true"
            )
        outputs = {"manifest": result.manifest, "qc": folder / "qc.csv"}
        if result.evaluation is not None:
            outputs |= {f"evaluation_{i}": p for i, p in enumerate(result.evaluation.files)}
        return outputs

    return Stage(
        "segment",
        run,
        settings={"model": str(step.model), **step.settings.model_dump(mode="json")},
        reads=lambda ctx: [current_manifest(ctx), card],
    )
