"""One (patient, sequence) extraction, run in a worker process: check inputs, run pyradiomics.

Everything a worker needs travels in :class:`TaskSpec`; everything it learns comes back in
:class:`TaskResult`, with an error message instead of an exception, so one bad case never
stops the batch. The driver owns the cache and all writing. Tasks on the same image (the
mask variants of robustness) run together in :func:`run_group`, which reads the image once
and lets :mod:`radiopipe.features.sharing` do the mask-free work once.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from radiopipe.errors import InputError
from radiopipe.features.units import Unit, assign
from radiopipe.imaging import geometry_mismatches, header_of, read_image

logger = logging.getLogger(__name__)

DIAGNOSTIC_PREFIX = "diagnostics_"
# Diagnostics that describe the request rather than the case (they vary with cached subsets).
_REQUEST_DIAGNOSTICS = ("diagnostics_Configuration_",)


@dataclass(frozen=True)
class TaskSpec:
    """What a worker needs to extract the missing units of one task."""

    patient_id: str
    sequence: str
    image: str
    mask: str
    run: dict[str, Any]  # pyradiomics parameter mapping for this run
    units: tuple[tuple[str, Unit], ...]  # (cache key, unit) of every unit the run computes
    variant: str = ""
    threads: int | None = None  # SimpleITK threads in this worker (None: leave as is)
    cost: float = 0.0  # relative cost estimate, for scheduling large tasks first

    @property
    def name(self) -> str:
        """Readable task name."""
        extra = f" ({self.variant})" if self.variant else ""
        return f"{self.patient_id}/{self.sequence}{extra}"


@dataclass
class TaskResult:
    """A worker's answer: features per unit key and diagnostics, or an error."""

    patient_id: str
    sequence: str
    variant: str = ""
    units: dict[str, dict[str, float]] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    file: str | None = None
    seconds: float = 0.0
    peak_rss_mb: float | None = None

    @property
    def ok(self) -> bool:
        """True if the task succeeded."""
        return self.error is None


def run_task(spec: TaskSpec) -> TaskResult:
    """Extract one task; never raises for a problem with the case (it is returned instead)."""
    return run_group([spec])[0]


def run_group(specs: Sequence[TaskSpec]) -> list[TaskResult]:
    """Extract tasks that share one image and one parameter mapping (masks of one image).

    The image is read once and :class:`~radiopipe.features.sharing.SharedExtractor` does the
    mask-free steps once; each task's values are those of its own pyradiomics run. Each
    result's ``seconds`` is its own extraction plus an equal share of the shared reading.
    """
    if not specs:
        return []
    first = specs[0]
    if any(s.image != first.image or s.run != first.run for s in specs):
        raise ValueError("run_group needs tasks with the same image and parameters")
    previous = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    if first.threads:  # this task's share of the cores; the caller's setting comes back after
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(first.threads)
    try:
        return _run_group(specs, first)
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous)


def _run_group(specs: Sequence[TaskSpec], first: TaskSpec) -> list[TaskResult]:
    start, cpu_start = time.perf_counter(), time.process_time()
    _reset_peak_rss()
    _quiet_pyradiomics()
    results = [TaskResult(s.patient_id, s.sequence, s.variant) for s in specs]
    seconds = [0.0] * len(specs)
    cpu = [0.0] * len(specs)
    todo: list[int] = []
    masks: list[sitk.Image] = []
    try:
        image = read_image(first.image, patient=first.patient_id)
        for index, spec in enumerate(specs):
            try:
                mask = read_image(spec.mask, patient=spec.patient_id)
                check_inputs(image, mask, spec, spec.run.get("setting") or {})
            except Exception as err:
                _fail(results[index], err, spec)
                continue
            todo.append(index)
            masks.append(mask)
    except Exception as err:
        for result, spec in zip(results, specs, strict=True):
            _fail(result, err, spec)
        todo, masks = [], []
    shared = (time.perf_counter() - start) / len(specs)
    shared_cpu = (time.process_time() - cpu_start) / len(specs)
    mark, cpu_mark = time.perf_counter(), time.process_time()
    if todo:
        try:
            for position, outcome in _extractor(json.dumps(first.run)).execute_masks(image, masks):
                index = todo[position]
                now, cpu_now = time.perf_counter(), time.process_time()
                seconds[index], cpu[index] = now - mark, cpu_now - cpu_mark
                mark, cpu_mark = now, cpu_now
                if isinstance(outcome, Exception):
                    _fail(results[index], outcome, specs[index])
                else:
                    _fill(results[index], outcome, specs[index])
        except MemoryError as err:
            for index in todo:
                if results[index].error is None and not results[index].units:
                    _fail(results[index], err, specs[index])
    peak = _peak_rss_mb()
    for index, result in enumerate(results):
        result.seconds = seconds[index] + shared
        result.peak_rss_mb = peak
        result.diagnostics["radiopipe_seconds"] = round(result.seconds, 3)
        result.diagnostics["radiopipe_cpu_seconds"] = round(cpu[index] + shared_cpu, 3)
        if peak is not None:
            result.diagnostics["radiopipe_peak_rss_mb"] = round(peak, 1)
    return results


def _fill(result: TaskResult, raw: dict[str, Any], spec: TaskSpec) -> None:
    """File a pyradiomics result under the spec's units (features) and diagnostics."""
    features: dict[str, float] = {}
    diagnostics: dict[str, Any] = {}
    for name, value in raw.items():
        if name.startswith(DIAGNOSTIC_PREFIX):
            if not name.startswith(_REQUEST_DIAGNOSTICS):
                diagnostics[name[len(DIAGNOSTIC_PREFIX) :]] = _plain(value)
        else:  # shape axes come back complex (imaginary part ~1e-17) when eigenvalues tie
            features[name] = float(np.real(value))
    by_unit = assign(features, [unit for _, unit in spec.units])
    result.units = {key: by_unit[unit] for key, unit in spec.units}
    result.diagnostics = diagnostics


def _fail(result: TaskResult, err: BaseException, spec: TaskSpec) -> None:
    """Record why a task failed, naming the file at fault."""
    if isinstance(err, InputError):
        result.error, result.file = err.problem, err.file
    elif isinstance(err, MemoryError):
        result.error, result.file = "ran out of memory during extraction", spec.image
    else:  # pyradiomics raises ValueError/RuntimeError for invalid ROIs
        result.error = f"pyradiomics failed: {type(err).__name__}: {_first_line(err)}"
        result.file = spec.mask if isinstance(err, ValueError) else spec.image


@functools.lru_cache(maxsize=8)
def _extractor(run_json: str) -> Any:
    """A :class:`SharedExtractor` per parameter mapping, reused by the tasks of a worker."""
    from radiopipe.features.sharing import SharedExtractor  # imports pyradiomics

    return SharedExtractor(json.loads(run_json))


def check_inputs(
    image: sitk.Image, mask: sitk.Image, spec: TaskSpec, settings: dict[str, Any]
) -> None:
    """Raise InputError naming the file for problems pyradiomics reports obscurely or late."""
    pid = spec.patient_id
    for volume, path in ((image, spec.image), (mask, spec.mask)):
        if volume.GetNumberOfComponentsPerPixel() != 1:
            raise InputError(
                "is a vector volume; expected one value per voxel", patient=pid, file=path
            )
        if volume.GetDimension() != 3:
            raise InputError(f"is {volume.GetDimension()}-D; expected 3-D", patient=pid, file=path)
    if not settings.get("correctMask") and "geometryTolerance" not in settings:
        mismatch = geometry_mismatches(header_of(mask), header_of(image))
        if mismatch:
            raise InputError(
                "mask and image grids disagree (" + "; ".join(mismatch) + "); resample the mask "
                "onto the image, or set correctMask: true in the parameter file",
                patient=pid,
                file=spec.mask,
            )
    label = int(settings.get("label", 1))
    voxels = sitk.GetArrayViewFromImage(mask)
    inside = voxels == label
    count = int(inside.sum())
    if count == 0:
        present = ", ".join(f"{v:g}" for v in np.unique(voxels)[:10])
        raise InputError(
            f"mask is empty: no voxel has label {label} (values present: {present})",
            patient=pid,
            file=spec.mask,
        )
    if count == 1:
        raise InputError(
            f"mask holds a single voxel with label {label}; features need a region",
            patient=pid,
            file=spec.mask,
        )
    if inside.shape == sitk.GetArrayViewFromImage(image).shape:
        values = sitk.GetArrayViewFromImage(image)[inside]
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            bad = int((~np.isfinite(values)).sum())
            raise InputError(
                f"{bad} NaN or infinite voxel(s) inside the mask", patient=pid, file=spec.image
            )


def _quiet_pyradiomics() -> None:
    """pyradiomics logs warnings per case (to its own stderr handler); keep errors only."""
    import radiomics  # importing it resets its verbosity, so import before setting levels

    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("pykwalify").setLevel(logging.ERROR)


def _plain(value: Any) -> Any:
    """A diagnostics value as JSON-friendly data."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _first_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _reset_peak_rss() -> None:
    """Reset the process's peak-RSS counter (Linux), so the next reading is this task's peak."""
    try:
        with open(f"/proc/{os.getpid()}/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float | None:
    """Peak resident memory since the last reset (Linux VmHWM), else the process maximum."""
    try:
        with open(f"/proc/{os.getpid()}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
