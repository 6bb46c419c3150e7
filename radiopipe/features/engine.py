"""Plan, run and collect extraction tasks: cache look-up, Dask execution, cache write-back.

The driver hashes every input file, looks each task's units up in the cache, sends only the
missing units to the workers, and writes each finished task to the cache the moment it
arrives, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radiopipe.features.cache import FeatureCache, FileHasher, TaskEntry
from radiopipe.features.executor import ExecutorOptions, execute
from radiopipe.features.params import ExtractionParams
from radiopipe.features.task import TaskSpec
from radiopipe.features.units import (
    Unit,
    computed_units,
    general_key,
    params_for,
    plan_units,
    unit_key,
)
from radiopipe.progress import progress_bar, rate_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskInput:
    """One extraction to do: a patient's image and mask for one sequence."""

    patient_id: str
    sequence: str
    image: str
    mask: str
    variant: str = ""  # which mask: "" (the manifest's), "mask2", "erode", ...
    problem: str | None = None  # known before running (e.g. no mask given)


@dataclass
class TaskOutcome:
    """The features of one task, or why there are none."""

    task: TaskInput
    features: dict[str, float] | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    file: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        """True if the task has features."""
        return self.error is None


@dataclass
class RunSummary:
    """Counts and timing of one extraction run."""

    tasks: int = 0
    cached: int = 0
    computed: int = 0
    failed: int = 0
    units_computed: int = 0
    seconds: float = 0.0
    executor: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain mapping for JSON."""
        return dict(self.__dict__)


@dataclass
class _Planned:
    task: TaskInput
    general: str = ""
    keys: dict[Unit, str] = field(default_factory=dict)
    entry: TaskEntry | None = None
    spec: TaskSpec | None = None


def run_tasks(
    tasks: Sequence[TaskInput],
    params: ExtractionParams,
    cache_root: str | Path,
    options: ExecutorOptions,
    description: str = "extracting",
    show_progress: bool = True,
) -> tuple[list[TaskOutcome], RunSummary]:
    """Extract every task (from the cache where possible); outcomes in the order given."""
    start = time.perf_counter()
    cache = FeatureCache(cache_root)
    units = plan_units(params)
    planned, outcomes = _plan(tasks, params, units, cache)
    specs = [p.spec for p in planned.values() if p.spec is not None]
    summary = RunSummary(tasks=len(tasks), executor=options.describe())
    summary.cached = sum(1 for p in planned.values() if p.spec is None)
    if specs:
        logger.info(
            "%d task(s) to compute (%d units), %d cached, on %s",
            len(specs), sum(len(s.units) for s in specs), summary.cached, options.describe(),
        )  # fmt: skip
    with _Progress(len(specs), description, show_progress) as bar:
        for result in execute(specs, options):
            plan = planned[(result.patient_id, result.sequence, result.variant)]
            if result.ok:
                entry = plan.entry
                entry.units.update(result.units)
                entry.diagnostics[plan.general] = result.diagnostics
                entry.labels.update({key: unit.describe() for unit, key in plan.keys.items()})
                cache.save(plan.task.patient_id, plan.task.sequence, plan.task.variant, entry)
                summary.computed += 1
                summary.units_computed += len(result.units)
            else:
                outcomes[_id(plan.task)] = TaskOutcome(
                    plan.task, error=result.error, file=result.file
                )
                logger.warning("%s: %s", result.file or plan.task.image, result.error)
            bar.advance(failed=not result.ok)
    for ident, plan in planned.items():
        if ident not in outcomes:
            outcomes[ident] = _collect(plan, units, cached=plan.spec is None)
    ordered = [outcomes[_id(t)] for t in tasks]
    summary.failed = sum(1 for o in ordered if not o.ok)
    summary.seconds = round(time.perf_counter() - start, 3)
    return ordered, summary


def _id(task: TaskInput) -> tuple[str, str, str]:
    return (task.patient_id, task.sequence, task.variant)


def _plan(
    tasks: Sequence[TaskInput], params: ExtractionParams, units: list[Unit], cache: FeatureCache
) -> tuple[dict[tuple, _Planned], dict[tuple, TaskOutcome]]:
    """Hash inputs, look tasks up in the cache, build specs for what is missing."""
    hasher = FileHasher(cache.root)
    paths = [p for t in tasks if t.problem is None for p in (t.image, t.mask)]
    hashes = hasher.many(paths)
    hasher.save()
    planned: dict[tuple, _Planned] = {}
    failed: dict[tuple, TaskOutcome] = {}
    for task in tasks:
        ident = _id(task)
        if ident in planned or ident in failed:
            raise ValueError(f"task {ident} is listed twice")
        if task.problem is not None:
            failed[ident] = TaskOutcome(task, error=task.problem, file=task.mask or task.image)
            continue
        missing_file = next(
            (p for p in (task.image, task.mask) if not isinstance(hashes[p], str)), None
        )
        if missing_file is not None:
            failed[ident] = TaskOutcome(
                task, error=_read_problem(hashes[missing_file]), file=missing_file
            )
            continue
        plan = _Planned(task, general_key(hashes[task.image], hashes[task.mask], params))
        plan.keys = {unit: unit_key(plan.general, unit) for unit in units}
        plan.entry = cache.load(
            task.patient_id, task.sequence, task.variant, hashes[task.image], hashes[task.mask]
        )
        missing = [u for u in units if plan.keys[u] not in plan.entry.units]
        if missing or plan.general not in plan.entry.diagnostics:
            run = params_for(missing or units[:1], params)
            produced = computed_units(units, run)
            plan.spec = TaskSpec(
                patient_id=task.patient_id,
                sequence=task.sequence,
                variant=task.variant,
                image=task.image,
                mask=task.mask,
                run=run,
                units=tuple((plan.keys[u], u) for u in produced),
                cost=_cost(task.mask) * len(produced),
            )
        planned[ident] = plan
    return planned, failed


def _collect(plan: _Planned, units: list[Unit], cached: bool) -> TaskOutcome:
    features: dict[str, float] = {}
    for unit in units:
        features.update(plan.entry.units[plan.keys[unit]])
    diagnostics = dict(plan.entry.diagnostics.get(plan.general, {}))
    return TaskOutcome(plan.task, features=features, diagnostics=diagnostics, cached=cached)


def _cost(mask: str) -> float:
    """Relative cost of a task: the mask file's size grows with the lesion's surface."""
    try:
        path = Path(mask)
        return float(
            sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
        )
    except OSError:
        return 0.0


def _read_problem(err: object) -> str:
    if isinstance(err, FileNotFoundError):
        return "file does not exist"
    return f"cannot read file ({err})"


class _Progress:
    """A rich progress bar with rate and ETA (or nothing when hidden)."""

    def __init__(self, total: int, description: str, show: bool) -> None:
        self.total, self.description, self.show = total, description, show and total > 0
        self.failed = 0

    def __enter__(self) -> _Progress:
        if self.show:
            self.bar = progress_bar()
            self.bar.__enter__()
            self.task = self.bar.add_task(self.description, total=self.total, rate="", status="")
        return self

    def advance(self, failed: bool = False) -> None:
        self.failed += int(failed)
        if self.show:
            self.bar.advance(self.task)
            status = f"[red]{self.failed} failed[/]" if self.failed else ""
            self.bar.update(self.task, rate=rate_text(self.bar, self.task, "tasks"), status=status)

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self.bar.__exit__(*exc)
