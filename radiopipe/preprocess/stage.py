"""Preprocess a whole cohort: worker processes, resume, a failures table and a new manifest.

Layout of the output folder::

    manifest.csv                 the input manifest, pointing at the processed volumes
    failures.csv                 patient, sequence, file, error (header only when none failed)
    patients/<id>/image_<seq>.nii.gz, mask_<seq>.nii.gz, mask2_<seq>.nii.gz, <mov>_to_<fix>.tfm
    patients/<id>/preprocess.json   the patient's key (input hashes + settings) and outputs
    provenance.json, config.resolved.yaml, radiopipe.log

A patient whose record holds the same key and whose outputs all exist is skipped, so an
interrupted or partly failed run resumes where it stopped.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import hashlib
import json
import logging
import multiprocessing
import os
import re
import traceback
from collections.abc import Iterator
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path

import pandas as pd
import SimpleITK as sitk

from radiopipe.atomic import write_csv, write_json
from radiopipe.cohort.manifest import Cohort, write_manifest
from radiopipe.config import config_hash
from radiopipe.config.preprocess import PreprocessSettings
from radiopipe.errors import ConfigError, InputError, ManifestError
from radiopipe.hashing import file_sha256, json_sha256
from radiopipe.preprocess.patient import MASK_KINDS, Step, preprocess_patient
from radiopipe.progress import progress_bar, rate_text
from radiopipe.runs import LOG_FILE, RunFolder

log = logging.getLogger(__name__)

STAGE = "preprocess"
# Bump when processing changes in a way that alters outputs, so old results are recomputed.
STAGE_VERSION = 1
PATIENTS_DIR = "patients"
RECORD_FILE = "preprocess.json"
MANIFEST_FILE = "manifest.csv"
FAILURES_FILE = "failures.csv"
FAILURE_COLUMNS = ("patient", "sequence", "file", "error")

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Failure:
    """One patient that could not be processed, and why."""

    patient: str
    sequence: str
    file: str
    error: str


@dataclass(frozen=True)
class Job:
    """One patient's inputs (manifest column -> absolute path) and output folder."""

    patient: str
    inputs: dict[str, str]
    folder: Path


@dataclass
class JobResult:
    """What happened to one patient: outputs (column -> absolute path), skip or failure."""

    patient: str
    columns: dict[str, str] = field(default_factory=dict)
    key: str = ""
    skipped: bool = False
    failure: Failure | None = None
    traceback: str = ""


@dataclass
class PreprocessSummary:
    """Counts and files of a finished preprocessing run."""

    processed: int
    skipped: int
    failures: list[Failure]
    manifest: Path
    failures_file: Path

    @property
    def ok(self) -> bool:
        """True if every patient was processed or skipped."""
        return not self.failures


def run_preprocess(
    cohort: Cohort,
    settings: PreprocessSettings,
    out: str | Path,
    workers: int = 1,
    show_progress: bool = True,
) -> PreprocessSummary:
    """Preprocess every patient of ``cohort`` into ``out``; failures are collected, not raised.

    Patients finished before (same key, outputs present) are reused; skipping the whole stage,
    provenance and the log are the stage engine's business (radiopipe.pipeline.engine).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_inputs(cohort, settings, out / MANIFEST_FILE)
    jobs = list(_jobs(cohort, out))
    log_file = out / LOG_FILE  # worker processes append to the stage's log
    results = _execute(jobs, cohort.sequences, settings, workers, show_progress, log_file)
    summary = _write_outputs(cohort, results, RunFolder(out))
    log.info(
        "preprocess: %d processed, %d skipped, %d failed",
        summary.processed, summary.skipped, len(summary.failures),
    )  # fmt: skip
    return summary


def process_job(job: Job, sequences: tuple[str, ...], settings: PreprocessSettings) -> JobResult:
    """Process (or skip) one patient; every error becomes a :class:`Failure`."""
    step = Step()
    try:
        record = _read_record(job.folder)
        hashes = _input_hashes(job, record, step)
        key = _patient_key(hashes, settings)
        if record and record.get("key") == key:
            outputs = record.get("outputs", {})
            files = [*outputs.values(), *([record["transform"]] if record.get("transform") else [])]
            if outputs and all((job.folder / name).is_file() for name in files):
                columns = {c: str(job.folder / n) for c, n in outputs.items()}
                return JobResult(job.patient, columns, key, skipped=True)
        (job.folder / RECORD_FILE).unlink(missing_ok=True)
        job.folder.mkdir(parents=True, exist_ok=True)
        written = preprocess_patient(job.patient, job.inputs, sequences, settings, job.folder, step)
        write_json(
            job.folder / RECORD_FILE,
            {
                "patient": job.patient,
                "key": key,
                "inputs": hashes,
                "outputs": written.columns,
                "transform": written.transform,
                "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            },
        )
        columns = {c: str(job.folder / n) for c, n in written.columns.items()}
        return JobResult(job.patient, columns, key)
    except InputError as err:
        failure = Failure(job.patient, step.sequence, err.file or step.file, err.problem)
        return JobResult(job.patient, failure=failure)
    except Exception as err:  # any other crash still must not stop the other patients
        problem = f"unexpected {type(err).__name__}: {err}"
        failure = Failure(job.patient, step.sequence, step.file, problem)
        return JobResult(job.patient, failure=failure, traceback=traceback.format_exc())


# Resume keys -------------------------------------------------------------------------------


def _patient_key(hashes: dict[str, dict[str, object]], settings: PreprocessSettings) -> str:
    blob = {
        "stage_version": STAGE_VERSION,
        "settings": config_hash(settings),
        "inputs": {column: entry["sha256"] for column, entry in sorted(hashes.items())},
    }
    return json_sha256(blob)


def _input_hashes(job: Job, record: dict | None, step: Step) -> dict[str, dict[str, object]]:
    """SHA-256 of each input file; reused from the last record when size and mtime match."""
    previous = (record or {}).get("inputs", {})
    hashes: dict[str, dict[str, object]] = {}
    for column, path in sorted(job.inputs.items()):
        step.at(column.split("_", 1)[1], path)
        if not path:
            raise InputError(f"no {column} path in the manifest")
        file = Path(path)
        if not file.exists():
            raise InputError("file does not exist", file=file)
        stat = file.stat()
        entry: dict[str, object] = {
            "path": path,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        old = previous.get(column, {})
        reusable = file.is_file() and all(old.get(k) == entry[k] for k in entry)
        entry["sha256"] = old["sha256"] if reusable and "sha256" in old else file_sha256(file)
        hashes[column] = entry
    return hashes


def _read_record(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# Execution ---------------------------------------------------------------------------------


def _execute(
    jobs: list[Job],
    sequences: tuple[str, ...],
    settings: PreprocessSettings,
    workers: int,
    show_progress: bool,
    log_file: Path,
) -> list[JobResult]:
    """Run the jobs serially or on worker processes, with a progress bar; keep job order."""
    results: dict[str, JobResult] = {}
    counts = {"done": 0, "skipped": 0, "failed": 0}
    bar = progress_bar() if show_progress else None
    with bar or contextlib.nullcontext():
        task = bar.add_task("preprocess", total=len(jobs), rate="", status="") if bar else 0
        for result in _results(jobs, sequences, settings, workers, log_file):
            results[result.patient] = result
            if result.failure is not None:
                log.warning("patient %s failed (%s, %s): %s", *astuple(result.failure))
                if result.traceback:
                    log.error("patient %s traceback:\n%s", result.patient, result.traceback)
            outcome = "failed" if result.failure else "skipped" if result.skipped else "done"
            counts[outcome] += 1
            if bar is not None:
                status = ", ".join(f"{v} {k}" for k, v in counts.items())
                bar.update(task, advance=1, rate=rate_text(bar, task, "patient"), status=status)
    return [results[job.patient] for job in jobs]


def _results(
    jobs: list[Job],
    sequences: tuple[str, ...],
    settings: PreprocessSettings,
    workers: int,
    log_file: Path,
) -> Iterator[JobResult]:
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        for job in jobs:
            yield process_job(job, sequences, settings)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(threads, log_file)
    )
    try:
        futures = {pool.submit(process_job, job, sequences, settings): job for job in jobs}
        for future in cf.as_completed(futures):
            job = futures[future]
            try:
                yield future.result()
            except Exception as err:  # the worker process itself died (memory, signal)
                problem = f"worker process failed ({type(err).__name__}: {err})"
                yield JobResult(job.patient, failure=Failure(job.patient, "", "", problem))
    finally:  # on Ctrl-C or an error, patients not yet started are not started
        pool.shutdown(wait=True, cancel_futures=True)


def _init_worker(threads: int, log_file: Path) -> None:
    """Share the cores between workers (ITK would take all of each); log to the run's file."""
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [worker %(process)d]: %(message)s")
    )
    logger = logging.getLogger("radiopipe")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)


# Inputs and outputs ------------------------------------------------------------------------


def _check_inputs(cohort: Cohort, settings: PreprocessSettings, manifest_out: Path) -> None:
    ids = cohort.table["patient_id"].astype(str)
    duplicated = sorted(set(ids[ids.duplicated()]))
    if duplicated:
        raise ManifestError(
            f"duplicate patient ID(s) in the manifest: {', '.join(duplicated[:10])}; "
            "each patient needs one row (run `radiopipe validate` to list every problem)"
        )
    bad = [s for s in cohort.sequences if not _SAFE_NAME.match(s)]
    if bad:
        raise ManifestError(
            f"sequence name(s) {', '.join(map(repr, bad))} cannot be used in file names; "
            "use letters, digits, '-' or '_' in image_<sequence> columns"
        )
    if cohort.source is not None and manifest_out.resolve() == cohort.source.resolve():
        raise ConfigError(
            f"--out would overwrite the input manifest {cohort.source}; choose another folder"
        )
    register = settings.register
    if register is not None:
        for role in ("moving", "fixed"):
            name = getattr(register, role)
            if name not in cohort.sequences:
                raise ConfigError(
                    f"key 'register.{role}': {name!r} is not a sequence of the manifest; "
                    f"allowed values: {', '.join(cohort.sequences)}"
                )


def _jobs(cohort: Cohort, root: Path) -> Iterator[Job]:
    columns = [c for c in cohort.table.columns if _is_path_column(c, cohort.sequences)]
    for _, row in cohort.table.iterrows():
        patient = str(row["patient_id"])
        inputs = {c: str(row[c]) for c in columns if c.startswith("image_") or row[c]}
        yield Job(patient, inputs, root / PATIENTS_DIR / patient_folder_name(patient))


def _is_path_column(column: str, sequences: tuple[str, ...]) -> bool:
    """True for image_/mask_/mask2_ columns of the processed sequences."""
    kind, _, sequence = column.partition("_")
    return kind in ("image", *MASK_KINDS) and sequence in sequences


def patient_folder_name(patient: str) -> str:
    """A safe folder name for a patient ID (unsafe IDs get a short hash to stay unique)."""
    if _SAFE_NAME.match(patient) and patient not in (".", ".."):
        return patient
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", patient).lstrip(".") or "patient"
    return f"{cleaned}-{hashlib.sha256(patient.encode()).hexdigest()[:8]}"


def _write_outputs(cohort: Cohort, results: list[JobResult], run: RunFolder) -> PreprocessSummary:
    table = cohort.table.copy()
    done = {r.patient: r for r in results if r.failure is None}
    for column in sorted({c for r in done.values() for c in r.columns} - set(table.columns)):
        table[column] = ""
    paths = [c for c in table.columns if _is_path_column(c, cohort.sequences)]
    for index, row in table.iterrows():
        result = done.get(str(row["patient_id"]))
        if result is not None:
            for column in paths:
                table.at[index, column] = result.columns.get(column, "")
    table = table[table["patient_id"].astype(str).isin(done)].reset_index(drop=True)
    manifest = write_manifest(table, run.path(MANIFEST_FILE))
    failures = [r.failure for r in results if r.failure is not None]
    frame = pd.DataFrame([asdict(f) for f in failures], columns=list(FAILURE_COLUMNS))
    failures_file = write_csv(run.path(FAILURES_FILE), frame)
    skipped = sum(r.skipped for r in done.values())
    return PreprocessSummary(len(done) - skipped, skipped, failures, manifest, failures_file)
