"""Run extraction tasks: in this process, on an embedded Dask cluster, or on an existing one.

Each Dask worker is one process running one task at a time (one Dask thread), so a task's
memory is bounded by the worker memory limit; a worker that exceeds it is restarted by its
nanny and the task comes back as a failure, not a crash of the batch. Tasks on the same
image (robustness' mask variants) travel as one group, so the image is read, normalised and
resampled once (see :func:`radiopipe.features.task.run_group`).

SimpleITK threads per worker (:func:`sitk_threads`): cores // workers on a local cluster
(one thread with one worker per core), one on an existing cluster (``dask worker --nthreads
1``, one process per core), SimpleITK's default (all cores) in this process. Measured in
benchmarks/README.md (extraction): more threads than that only oversubscribe the cores.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from radiopipe.errors import RadiopipeError
from radiopipe.features.task import TaskResult, TaskSpec, run_group

logger = logging.getLogger(__name__)

# A task whose worker dies this many times (memory limit, segfault) is reported as failed.
ALLOWED_WORKER_DEATHS = 1


@dataclass(frozen=True)
class ExecutorOptions:
    """Where tasks run: ``workers`` processes here (0: in this process) or a Dask ``scheduler``."""

    workers: int | None = None  # None: one process per core
    scheduler: str | None = None  # address of an existing Dask scheduler, e.g. tcp://host:8786
    memory_limit: str = "auto"  # per worker, e.g. "4GiB"; "auto": system memory / workers
    connect_timeout: float = 30.0  # seconds to reach an existing scheduler
    threads: int | None = None  # SimpleITK threads per worker; None: see sitk_threads()

    @property
    def n_workers(self) -> int:
        """Number of local worker processes (0 means run in this process)."""
        return default_workers() if self.workers is None else self.workers

    def describe(self) -> str:
        """Readable description for logs and summaries."""
        if self.scheduler:
            return f"Dask cluster at {self.scheduler}"
        if self.n_workers == 0:
            return "this process"
        return f"{self.n_workers} local worker process(es), memory limit {self.memory_limit} each"


def default_workers() -> int:
    """One worker per core available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def sitk_threads(options: ExecutorOptions, n_tasks: int | None = None) -> int | None:
    """SimpleITK threads per worker: cores // workers locally, 1 on a cluster (None: default)."""
    if options.threads is not None:
        return options.threads
    if options.scheduler:
        return 1
    if options.n_workers == 0:
        return None
    workers = min(options.n_workers, n_tasks) if n_tasks else options.n_workers
    return max(1, default_workers() // max(1, workers))


def group_specs(specs: Sequence[TaskSpec]) -> list[list[TaskSpec]]:
    """Tasks on the same image with the same parameters, as groups, the costliest first."""
    groups: dict[tuple[str, str], list[TaskSpec]] = {}
    for spec in specs:
        groups.setdefault((spec.image, json.dumps(spec.run, sort_keys=True)), []).append(spec)
    return sorted(groups.values(), key=lambda g: -sum(s.cost for s in g))


def execute(specs: Sequence[TaskSpec], options: ExecutorOptions) -> Iterator[TaskResult]:
    """Run ``specs`` (largest first, grouped by image) and yield each result as it finishes."""
    groups = group_specs(specs)
    if not groups:
        return
    threads = sitk_threads(options, len(groups))
    groups = [[replace(spec, threads=threads) for spec in group] for group in groups]
    if options.scheduler is None and options.n_workers == 0:
        for group in groups:
            yield from run_group(group)
        return
    yield from _execute_dask(groups, options)


def _execute_dask(groups: list[list[TaskSpec]], options: ExecutorOptions) -> Iterator[TaskResult]:
    import dask
    from distributed import as_completed

    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet_dask_logs())
        stack.enter_context(
            dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS})
        )
        client = _client(options, len(groups), stack)
        futures = {}
        for rank, group in enumerate(groups):
            key = f"extract-{uuid.uuid4().hex[:12]}"
            future = client.submit(run_group, group, key=key, pure=False, priority=-rank)
            futures[future] = group
        try:
            for future in as_completed(futures, loop=client.loop):
                group = futures.pop(future)
                yield from _results_of(future, group, options)
                future.release()
        finally:
            for future in futures:
                future.cancel()


@contextlib.contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Keep Dask's start-up chatter out of the user's log (warnings still show)."""
    loggers = [logging.getLogger(n) for n in ("distributed", "dask")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _client(options: ExecutorOptions, n_tasks: int, stack: contextlib.ExitStack):
    """A Dask client for an existing scheduler or a new local cluster (closed with ``stack``)."""
    from distributed import Client, LocalCluster

    try:
        if options.scheduler:
            return stack.enter_context(
                Client(options.scheduler, timeout=options.connect_timeout, set_as_default=False)
            )
        with warnings.catch_warnings():
            # The scheduler's HTTP endpoint moves to a free port when 8787 is taken (another
            # cluster on this machine); nothing to act on, so no warning.
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=max(1, min(options.n_workers, n_tasks)),
                    threads_per_worker=1,
                    processes=True,
                    memory_limit=options.memory_limit,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            )
        return stack.enter_context(Client(cluster, set_as_default=False))
    except (OSError, TimeoutError, ValueError) as err:
        raise RadiopipeError(f"cannot start Dask ({options.describe()}): {err}") from None


def _results_of(future, group: list[TaskSpec], options: ExecutorOptions) -> list[TaskResult]:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        limit = "" if options.scheduler else f" (memory limit {options.memory_limit} per worker)"
        message = (
            f"the worker process died while extracting{limit}: out of memory or a crash; "
            "raise --memory-limit or use fewer workers"
        )
    except Exception as err:  # e.g. the task could not be unpickled on a remote worker
        message = f"task failed on the Dask cluster: {type(err).__name__}: {err}"
    return [_failed(spec, message) for spec in group]


def _failed(spec: TaskSpec, message: str) -> TaskResult:
    return TaskResult(spec.patient_id, spec.sequence, spec.variant, error=message, file=spec.image)
