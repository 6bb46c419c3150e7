"""Stages that turn volumes into feature tables: extract (pyradiomics) and robustness (ICC)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from radiopipe.cohort.manifest import read_manifest
from radiopipe.config.extraction import ExecutionSettings, ExtractionSettings, RobustnessSettings
from radiopipe.errors import RadiopipeError
from radiopipe.imaging import file_sha256
from radiopipe.pipeline.cohort_stages import current_manifest
from radiopipe.stages import Context, Outputs, Stage

log = logging.getLogger(__name__)


def extract_stage(settings: ExtractionSettings) -> Stage:
    """pyradiomics features of every patient and sequence (cached per task, resumable)."""

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.features.extract import DIAGNOSTICS_FILE, FEATURES_FILE, extract_cohort
        from radiopipe.features.params import load_params

        result = extract_cohort(
            read_manifest(current_manifest(ctx)),
            load_params(settings.params),
            folder,
            executor_options(settings.execution),
            settings.sequences,
            cache_dir=settings.cache,
        )
        _check_failures(result.failures, settings.allow_failures, folder, "extract")
        return {
            "features": folder / FEATURES_FILE,
            "diagnostics": folder / DIAGNOSTICS_FILE,
            "cache": folder / "cache",
        }

    return Stage(
        "extract",
        run,
        settings=_settings(settings),
        reads=lambda ctx: [current_manifest(ctx), settings.params],
    )


def robustness_stage(settings: RobustnessSettings) -> Stage:
    """ICC(2,1) of every feature between two segmentations or perturbed masks."""

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.features.params import load_params
        from radiopipe.features.robustness import ICC_FILE, compute_robustness

        # The feature cache is content-addressed: the reference masks' features come from
        # extract's cache instead of being computed again.
        cache = settings.cache or ctx.output("extract", "cache")
        result = compute_robustness(
            read_manifest(current_manifest(ctx)),
            load_params(settings.params),
            folder,
            executor_options(settings.execution),
            source=settings.source,
            perturbation=settings.perturbation,
            include_test=settings.include_test,
            sequences=settings.sequences,
            cache_dir=cache,
        )
        _check_failures(result.failures, settings.allow_failures, folder, "robustness")
        kept = int((result.icc["icc"] >= settings.threshold).sum())
        log.info(
            "robustness: %d of %d features with ICC >= %g (%s, %d patients)",
            kept, len(result.icc), settings.threshold, result.source, result.n_patients,
        )  # fmt: skip
        return {"icc": folder / ICC_FILE}

    return Stage(
        "robustness",
        run,
        settings=_settings(settings),
        reads=lambda ctx: [current_manifest(ctx), settings.params],
    )


def executor_options(execution: ExecutionSettings):  # -> ExecutorOptions
    """The feature engine's executor options from the settings."""
    from radiopipe.features.executor import ExecutorOptions

    return ExecutorOptions(
        workers=execution.workers,
        scheduler=execution.scheduler,
        memory_limit=execution.memory_limit,
    )


def _settings(settings: ExtractionSettings | RobustnessSettings) -> dict:
    """What decides the stage's outputs: settings and the parameter file's content, not where
    or how many workers run them."""
    data = settings.model_dump(mode="json", exclude={"execution", "cache", "params"})
    return data | {"params_sha256": file_sha256(settings.params)}


def _check_failures(failures: pd.DataFrame, allowed: bool, folder: Path, stage: str) -> None:
    if failures.empty:
        return
    first = failures.iloc[0]
    message = (
        f"{stage}: {len(failures)} task(s) failed, listed in {folder / 'failures.csv'}; the "
        f"first: patient {first['patient_id']}, sequence {first['sequence']}, file "
        f"{first['file']}: {first['error']}"
    )
    if not allowed:
        raise RadiopipeError(f"{message}. Fix them or set {stage}.allow_failures: true")
    log.warning("%s (continuing: allow_failures is set)", message)
