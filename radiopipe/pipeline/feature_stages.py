"""Stages that turn volumes into feature tables: extract (pyradiomics) and robustness (ICC)."""

from __future__ import annotations

import logging
from pathlib import Path

from radiopipe.config.extraction import ExtractionSettings, RobustnessSettings
from radiopipe.hashing import file_sha256
from radiopipe.pipeline.cohort_stages import current_manifest
from radiopipe.stages import Context, Outputs, Stage

log = logging.getLogger(__name__)


def extract_stage(settings: ExtractionSettings) -> Stage:
    """pyradiomics features of every patient and sequence (cached per task, resumable)."""

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.features.extract import CACHE_DIR, DIAGNOSTICS_FILE, FEATURES_FILE
        from radiopipe.features.stage import extract_features

        extract_features(current_manifest(ctx), settings, folder)
        return {
            "features": folder / FEATURES_FILE,
            "diagnostics": folder / DIAGNOSTICS_FILE,
            "cache": Path(settings.cache) if settings.cache else folder / CACHE_DIR,
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
        from radiopipe.features.robustness import ICC_FILE
        from radiopipe.features.stage import robustness_icc

        # The feature cache is content-addressed: the reference masks' features come from
        # extract's cache instead of being computed again.
        cache = settings.cache or ctx.output("extract", "cache")
        result = robustness_icc(
            current_manifest(ctx), settings.model_copy(update={"cache": cache}), folder
        )
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


def _settings(settings: ExtractionSettings | RobustnessSettings) -> dict:
    """What decides the stage's outputs: the settings and the parameter file's content, not
    where or on how many workers the tasks run."""
    data = settings.model_dump(mode="json", exclude={"execution", "cache", "params"})
    return data | {"params_sha256": file_sha256(settings.params)}
