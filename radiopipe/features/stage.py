"""The extraction and robustness stages as plain functions: manifest + settings + folder.

``radiopipe extract`` / ``radiopipe robustness`` and ``radiopipe run`` both call these, so a
pipeline run and a command-line run give the same files. Settings are the stage models of
:mod:`radiopipe.config.extraction` (or a mapping / YAML path validated as one).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeVar

from radiopipe.cohort.manifest import Cohort, read_manifest
from radiopipe.config import load_config, parse_config
from radiopipe.config.core import StrictModel
from radiopipe.config.extraction import ExecutionSettings, ExtractionSettings, RobustnessSettings
from radiopipe.errors import RadiopipeError
from radiopipe.features.executor import ExecutorOptions
from radiopipe.features.extract import FAILURES_FILE, Extraction, extract_cohort
from radiopipe.features.params import load_params
from radiopipe.features.robustness import Robustness, compute_robustness

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=StrictModel)


class FailedCasesError(RadiopipeError):
    """Some (patient, sequence) tasks failed and failures were not allowed."""


def extract_features(
    manifest: str | Path | Cohort,
    settings: ExtractionSettings | dict[str, Any] | str | Path,
    out: str | Path,
    *,
    show_progress: bool = True,
    check: bool = True,
) -> Extraction:
    """Write OUT/features.parquet, diagnostics.parquet, failures.csv (cache in OUT/cache)."""
    settings = _settings(settings, ExtractionSettings)
    result = extract_cohort(
        _cohort(manifest),
        load_params(settings.params),
        out,
        executor_options(settings.execution),
        settings.sequences,
        cache_dir=settings.cache,
        show_progress=show_progress,
    )
    if check:
        raise_on_failures(result.failures, settings.allow_failures, Path(out) / FAILURES_FILE)
    return result


def robustness_icc(
    manifest: str | Path | Cohort,
    settings: RobustnessSettings | dict[str, Any] | str | Path,
    out: str | Path,
    *,
    show_progress: bool = True,
    check: bool = True,
) -> Robustness:
    """Write OUT/icc.parquet (ICC(2,1) per feature), the ratings and robustness_failures.csv."""
    from radiopipe.features.robustness import FAILURES_FILE as ROBUSTNESS_FAILURES

    settings = _settings(settings, RobustnessSettings)
    result = compute_robustness(
        _cohort(manifest),
        load_params(settings.params),
        out,
        executor_options(settings.execution),
        source=settings.source,
        perturbation=settings.perturbation,
        include_test=settings.include_test,
        sequences=settings.sequences,
        cache_dir=settings.cache,
        show_progress=show_progress,
        max_patients=settings.max_patients,
        sample_seed=settings.sample_seed,
    )
    if check:
        path = Path(out) / ROBUSTNESS_FAILURES
        raise_on_failures(result.failures, settings.allow_failures, path)
    return result


def executor_options(execution: ExecutionSettings) -> ExecutorOptions:
    """Executor options from the ``execution`` settings block."""
    return ExecutorOptions(
        workers=execution.workers,
        scheduler=execution.scheduler,
        memory_limit=execution.memory_limit,
    )


def raise_on_failures(failures: Any, allow: bool, path: Path) -> None:
    """Raise FailedCasesError naming the first failures unless ``allow`` (outputs are kept)."""
    if failures.empty:
        return
    if allow:
        logger.warning("%d task(s) failed (allowed); see %s", len(failures), path)
        return
    first = "; ".join(
        f"{r.patient_id}/{r.sequence}: {r.error}" for r in failures.head(3).itertuples()
    )
    raise FailedCasesError(
        f"{len(failures)} task(s) failed (all listed in {path}): {first}. Fix the inputs and "
        "run again (finished tasks are cached), or set allow_failures"
    )


def _cohort(manifest: str | Path | Cohort) -> Cohort:
    return manifest if isinstance(manifest, Cohort) else read_manifest(manifest)


def _settings(value: S | dict[str, Any] | str | Path, model: type[S]) -> S:
    if isinstance(value, model):
        return value
    if isinstance(value, dict):
        return parse_config(value, model, source=f"{model.__name__} settings")
    return load_config(value, model)
