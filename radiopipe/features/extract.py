"""Cohort-scale extraction: every patient x sequence, cached, then the stage's output files."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from radiopipe.atomic import write_csv, write_json, write_parquet
from radiopipe.cohort.manifest import IMAGE_PREFIX, MASK2_PREFIX, MASK_PREFIX, Cohort
from radiopipe.contracts import ExtractLayout
from radiopipe.features.assemble import (
    META_PARAMS,
    META_PYRADIOMICS,
    META_SEQUENCES,
    META_SETTINGS_HASH,
    diagnostics_table,
    failures_table,
    feature_table,
)
from radiopipe.features.engine import RunSummary, TaskInput, TaskOutcome, run_tasks
from radiopipe.features.executor import ExecutorOptions
from radiopipe.features.naming import check_sequence
from radiopipe.features.params import ExtractionParams, pyradiomics_version

logger = logging.getLogger(__name__)

FEATURES_FILE = ExtractLayout.FILES["features"]
DIAGNOSTICS_FILE = "diagnostics.parquet"
FAILURES_FILE = "failures.csv"
SUMMARY_FILE = "extraction.json"
CACHE_DIR = "cache"


@dataclass
class Extraction:
    """The result of extracting a cohort."""

    features: pd.DataFrame
    diagnostics: pd.DataFrame
    failures: pd.DataFrame
    summary: RunSummary
    outcomes: list[TaskOutcome]
    settings_sha256: str = ""


def cohort_tasks(
    cohort: Cohort, sequences: Sequence[str] | None = None, second_mask: bool = False
) -> list[TaskInput]:
    """One task per patient and sequence; a missing path becomes a task that fails clearly."""
    sequences = tuple(sequences or cohort.sequences)
    mask_prefix = MASK2_PREFIX if second_mask else MASK_PREFIX
    tasks = []
    for row in cohort.table.to_dict("records"):
        pid = str(row["patient_id"])
        for seq in sequences:
            check_sequence(seq)
            image = str(row.get(IMAGE_PREFIX + seq) or "")
            mask = str(row.get(mask_prefix + seq) or "")
            problem = None
            if not image:
                problem = f"no image for sequence {seq} (column {IMAGE_PREFIX + seq} is empty)"
            elif not mask:
                column = mask_prefix + seq
                state = "is empty" if column in cohort.table.columns else "is missing"
                problem = (
                    f"no mask for sequence {seq} (column {column} {state}); segment the "
                    "lesions first (radiopipe segment predict) or add mask paths to the manifest"
                )
            variant = "mask2" if second_mask else ""
            tasks.append(TaskInput(pid, seq, image, mask, variant=variant, problem=problem))
    return tasks


def extract_cohort(
    cohort: Cohort,
    params: ExtractionParams,
    out: str | Path,
    options: ExecutorOptions,
    sequences: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
    show_progress: bool = True,
) -> Extraction:
    """Extract features for the whole cohort and write features, diagnostics and failures."""
    out = Path(out)
    sequences = tuple(sequences or cohort.sequences)
    missing = [s for s in sequences if IMAGE_PREFIX + s not in cohort.table.columns]
    if missing:
        from radiopipe.errors import ManifestError

        raise ManifestError(
            f"manifest has no image column for sequence(s) {', '.join(missing)}; "
            f"it has: {', '.join(cohort.sequences)}"
        )
    tasks = cohort_tasks(cohort, sequences)
    cache_root = Path(cache_dir) if cache_dir else out / CACHE_DIR
    outcomes, summary = run_tasks(tasks, params, cache_root, options, show_progress=show_progress)
    result = Extraction(
        features=feature_table(cohort.patients, sequences, outcomes),
        diagnostics=diagnostics_table(outcomes),
        failures=failures_table(outcomes),
        summary=summary,
        outcomes=outcomes,
        settings_sha256=params.sha256,
    )
    write_outputs(out, result, params, sequences)
    return result


def parquet_metadata(params: ExtractionParams, sequences: Sequence[str]) -> dict[str, str]:
    """Metadata stored in every features table: settings hash, pyradiomics version, params."""
    return {
        META_SETTINGS_HASH: params.sha256,
        META_PYRADIOMICS: pyradiomics_version(),
        META_PARAMS: json.dumps(params.data, sort_keys=True),
        META_SEQUENCES: json.dumps(list(sequences)),
    }


def write_outputs(
    out: Path, result: Extraction, params: ExtractionParams, sequences: Sequence[str]
) -> None:
    """Write features.parquet, diagnostics.parquet, failures.csv and extraction.json."""
    metadata = parquet_metadata(params, sequences)
    write_parquet(out / FEATURES_FILE, result.features, metadata=metadata)
    write_parquet(out / DIAGNOSTICS_FILE, result.diagnostics, metadata=metadata)
    write_csv(out / FAILURES_FILE, result.failures)
    write_json(
        out / SUMMARY_FILE,
        {
            **result.summary.as_dict(),
            "patients": len(result.features),
            "features": len(result.features.columns) - 1,
            "settings_sha256": params.sha256,
            "pyradiomics_version": pyradiomics_version(),
            "params_source": params.source,
        },
    )
