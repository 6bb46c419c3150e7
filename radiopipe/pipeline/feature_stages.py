"""Stages that turn volumes into feature tables: extract (pyradiomics) and robustness (ICC)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from radiopipe.config.extraction import ExtractionSettings, RobustnessSettings
from radiopipe.hashing import file_sha256
from radiopipe.pipeline.engine import MANIFEST, From, Outputs, Stage, StageCall

log = logging.getLogger(__name__)


def extract_stage(
    settings: ExtractionSettings,
    on_result: Callable[[object], None] | None = None,
    strict: bool = True,
) -> Stage:
    """pyradiomics features of every patient and sequence (cached per task, resumable).

    ``on_result`` receives the :class:`radiopipe.features.extract.Extraction` (the CLI prints
    its summary). Failed cases (not allowed) stop the stage when ``strict``; otherwise it
    ends incomplete, so the next call computes them again.
    """
    from radiopipe.features.extract import CACHE_DIR, DIAGNOSTICS_FILE, FEATURES_FILE

    def run(call: StageCall) -> Outputs:
        from radiopipe.features.stage import extract_features

        result = extract_features(call["manifest"], settings, call.folder, check=strict)
        call.complete = settings.allow_failures or result.failures.empty
        call.provenance |= {
            "settings_sha256": result.settings_sha256,
            "extraction": result.summary.as_dict(),
        }
        if on_result is not None:
            on_result(result)
        return {
            "features": call.folder / FEATURES_FILE,
            "diagnostics": call.folder / DIAGNOSTICS_FILE,
            "cache": Path(settings.cache) if settings.cache else call.folder / CACHE_DIR,
        }

    return Stage(
        "extract", run, settings=settings,
        inputs={"manifest": MANIFEST, "params": settings.params},
        outputs=("features", "diagnostics"), identity=_identity(settings),
        scratch=() if settings.cache else (CACHE_DIR,),
    )  # fmt: skip


def robustness_stage(
    settings: RobustnessSettings,
    on_result: Callable[[object], None] | None = None,
    strict: bool = True,
) -> Stage:
    """ICC(2,1) of every feature between two segmentations or perturbed masks (failed cases:
    as for :func:`extract_stage`)."""
    from radiopipe.features.extract import CACHE_DIR
    from radiopipe.features.robustness import ICC_FILE, MASKS_DIR

    def run(call: StageCall) -> Outputs:
        from radiopipe.features.stage import robustness_icc

        # The feature cache is content-addressed: the reference masks' features come from
        # extract's cache (when extract ran) instead of being computed again.
        cache = settings.cache or call.get("extract_cache")
        result = robustness_icc(
            call["manifest"], settings.model_copy(update={"cache": cache}), call.folder,
            check=strict,
        )  # fmt: skip
        call.complete = settings.allow_failures or result.failures.empty
        kept = int((result.icc["icc"] >= settings.threshold).sum())
        log.info(
            "robustness: %d of %d features with ICC >= %g (%s, %d patients)",
            kept, len(result.icc), settings.threshold, result.source, result.n_patients,
        )  # fmt: skip
        call.provenance |= {
            "settings_sha256": result.settings_sha256,
            "robustness": result.summary.as_dict(),
        }
        if on_result is not None:
            on_result(result)
        return {"icc": call.folder / ICC_FILE}

    return Stage(
        "robustness", run, settings=settings,
        inputs={"manifest": MANIFEST, "params": settings.params,
                "extract_cache": From("extract", "cache", optional=True)},
        outputs=("icc",), identity=_identity(settings), scratch=(MASKS_DIR, CACHE_DIR),
    )  # fmt: skip


def _identity(settings: ExtractionSettings | RobustnessSettings) -> dict:
    """What decides the stage's outputs: the settings and the parameter file's content, not
    where or on how many workers the tasks run."""
    data = settings.model_dump(mode="json", exclude={"execution", "cache", "params"})
    return data | {"params_sha256": file_sha256(settings.params)}
