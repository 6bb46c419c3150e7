"""Feature robustness to segmentation: ICC(2,1) per feature between two or more masks.

Masks come from the manifest's ``mask2_<seq>`` columns (a second reader, or automatic vs
reference segmentation) or, when there are none, from perturbing the reference mask
(erosion, dilation, random contour). Only training patients are used unless asked
otherwise, so that the ICC filter the model stage applies learns nothing from test sets.
Extraction goes through the same cache as ``extract``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.atomic import write_csv, write_parquet
from radiopipe.cohort.manifest import MASK2_PREFIX, Cohort
from radiopipe.config.extraction import PerturbationSettings
from radiopipe.contracts import TRAINING_SPLITS, RobustnessLayout
from radiopipe.errors import ManifestError
from radiopipe.features.assemble import failures_table
from radiopipe.features.cache import FileHasher, safe_name
from radiopipe.features.engine import RunSummary, TaskInput, TaskOutcome, run_tasks
from radiopipe.features.executor import ExecutorOptions
from radiopipe.features.extract import CACHE_DIR, cohort_tasks, parquet_metadata
from radiopipe.features.icc import icc2_1
from radiopipe.features.naming import column_name, describe_columns
from radiopipe.features.params import ExtractionParams
from radiopipe.features.perturb import make_perturbed, variants
from radiopipe.progress import track

logger = logging.getLogger(__name__)

ICC_FILE = RobustnessLayout.FILES["icc"]
RATINGS_FILE = "robustness_features.parquet"
FAILURES_FILE = "robustness_failures.csv"
MASKS_DIR = "robustness_masks"
REFERENCE = "reference"


@dataclass
class Robustness:
    """ICC table, the ratings it came from, and what failed."""

    icc: pd.DataFrame
    ratings: pd.DataFrame
    failures: pd.DataFrame
    summary: RunSummary
    source: str
    n_patients: int
    settings_sha256: str = ""


def choose_source(cohort: Cohort, sequences: Sequence[str], source: str) -> str:
    """'second_mask' if every sequence has a mask2 column (or if asked), else 'perturbation'."""
    has_second = all(MASK2_PREFIX + s in cohort.table.columns for s in sequences)
    if source == "second_mask" and not has_second:
        missing = [MASK2_PREFIX + s for s in sequences if MASK2_PREFIX + s not in cohort.table]
        raise ManifestError(f"source second_mask needs column(s) {', '.join(missing)}")
    if source == "auto":
        return "second_mask" if has_second else "perturbation"
    return source


def robustness_patients(
    cohort: Cohort, include_test: bool, max_patients: int | None = None, seed: int = 0
) -> Cohort:
    """Training (and CV-only) patients unless told; a seeded sample if ``max_patients``."""
    table = cohort.table
    eligible = table if include_test else table.loc[table["split"].isin(TRAINING_SPLITS)]
    chosen = list(eligible["patient_id"])
    if max_patients is not None and len(chosen) > max_patients:
        rng = np.random.default_rng(seed)
        picked = set(rng.choice(len(chosen), size=max_patients, replace=False).tolist())
        chosen = [pid for i, pid in enumerate(chosen) if i in picked]
        logger.info(
            "robustness on a random sample of %d of %d patients", max_patients, len(eligible)
        )
    return cohort.subset(patients=chosen)


def compute_robustness(
    cohort: Cohort,
    params: ExtractionParams,
    out: str | Path,
    options: ExecutorOptions,
    source: str = "auto",
    perturbation: PerturbationSettings | None = None,
    include_test: bool = False,
    sequences: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
    show_progress: bool = True,
    max_patients: int | None = None,
    sample_seed: int = 0,
) -> Robustness:
    """Extract features under each segmentation, compute ICC(2,1), write icc.parquet."""
    out = Path(out)
    sequences = tuple(sequences or cohort.sequences)
    perturbation = perturbation or PerturbationSettings()
    source = choose_source(cohort, sequences, source)
    chosen = robustness_patients(cohort, include_test, max_patients, sample_seed)
    if len(chosen.table) < 2:
        raise ManifestError(
            f"robustness needs at least 2 {'patients' if include_test else 'training patients'}"
            f"; the manifest has {len(chosen.table)}"
        )
    cache_root = Path(cache_dir) if cache_dir else out / CACHE_DIR
    reference = cohort_tasks(chosen, sequences)
    if source == "second_mask":
        raters = [REFERENCE, "mask2"]
        others = cohort_tasks(chosen, sequences, second_mask=True)
    else:
        raters = [REFERENCE, *variants(perturbation)]
        others = _perturbed_tasks(
            reference, out / MASKS_DIR, params, perturbation, cache_root, show_progress
        )
    outcomes, summary = run_tasks(
        reference + others, params, cache_root, options, "robustness", show_progress
    )
    ratings = ratings_table(outcomes, chosen.patients, sequences, raters)
    icc = icc_table(ratings, raters, source)
    failures = failures_table(outcomes)
    failures.insert(2, "rater", [_rater(o) for o in outcomes if not o.ok])
    metadata = parquet_metadata(params, sequences) | {"source": source}
    write_parquet(out / ICC_FILE, icc, metadata=metadata)
    write_parquet(out / RATINGS_FILE, ratings, metadata=metadata)
    write_csv(out / FAILURES_FILE, failures)
    return Robustness(icc, ratings, failures, summary, source, len(chosen.table), params.sha256)


def ratings_table(
    outcomes: Sequence[TaskOutcome],
    patients: Sequence[str],
    sequences: Sequence[str],
    raters: Sequence[str],
) -> pd.DataFrame:
    """One row per (patient, rater): patient_id, rater, then ``<seq>__<feature>`` columns."""
    rows: dict[tuple[str, str], dict[str, float]] = {
        (pid, rater): {} for pid in patients for rater in raters
    }
    for outcome in outcomes:
        if outcome.ok:
            key = (outcome.task.patient_id, _rater(outcome))
            seq = outcome.task.sequence
            rows[key].update({column_name(seq, k): v for k, v in outcome.features.items()})
    frame = pd.DataFrame.from_dict(rows, orient="index").astype(np.float64)
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["patient_id", "rater"])
    return frame.reset_index()


def icc_table(ratings: pd.DataFrame, raters: Sequence[str], source: str) -> pd.DataFrame:
    """ICC(2,1) per feature column of a ratings table (patients with all raters only)."""
    features = [c for c in ratings.columns if c not in ("patient_id", "rater")]
    patients = list(dict.fromkeys(ratings["patient_id"]))
    indexed = ratings.set_index(["patient_id", "rater"])
    full = pd.MultiIndex.from_product([patients, list(raters)])
    cube = indexed.reindex(full)[features].to_numpy(dtype=np.float64)
    cube = cube.reshape(len(patients), len(raters), len(features))
    table = icc2_1(cube)
    table.insert(0, "feature", features)
    parts = describe_columns(features).set_index("column")
    table["sequence"] = parts.reindex(features)["sequence"].to_numpy()
    table["feature_class"] = parts.reindex(features)["feature_class"].to_numpy()
    table["filter"] = parts.reindex(features)["filter"].to_numpy()
    table["source"] = source
    return table


def _rater(outcome: TaskOutcome) -> str:
    return outcome.task.variant or REFERENCE


def _perturbed_tasks(
    reference: list[TaskInput],
    masks_dir: Path,
    params: ExtractionParams,
    settings: PerturbationSettings,
    cache_root: Path,
    show_progress: bool = True,
) -> list[TaskInput]:
    """Perturbed-mask tasks for each reference task (made in threads, written once)."""
    hasher = FileHasher(cache_root)
    usable = [t for t in reference if t.problem is None]
    shas = hasher.many([t.mask for t in usable])

    def perturb(task: TaskInput) -> list[TaskInput]:
        sha = shas.get(task.mask)
        if not isinstance(sha, str):
            return []  # the reference task fails and says why
        try:
            paths = make_perturbed(
                task.mask, masks_dir / safe_name(task.patient_id), task.patient_id,
                task.sequence, params.label, settings, sha,
            )  # fmt: skip
        except Exception as err:  # an unreadable mask: report it on each perturbed task
            return [
                TaskInput(task.patient_id, task.sequence, task.image, task.mask, v, str(err))
                for v in variants(settings)
            ]
        return [
            TaskInput(task.patient_id, task.sequence, task.image, str(path), variant)
            for variant, path in paths.items()
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = pool.map(perturb, usable)
        if show_progress:
            jobs = track(jobs, "perturbing masks", total=len(usable))
        results = list(jobs)
    hasher.save()
    return [task for group in results for task in group]
