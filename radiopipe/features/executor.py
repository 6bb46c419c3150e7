"""Run extraction tasks: in this process, on an embedded Dask cluster, or on an existing one.

Each Dask worker is one process running one task at a time (one thread, SimpleITK limited to
one thread), so a task's memory is bounded by the worker memory limit; a worker that exceeds
it is restarted by its nanny and the task comes back as a failure, not a crash of the batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from radiopipe.errors import RadiopipeError
from radiopipe.features.task import TaskResult, TaskSpec, run_task

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


def execute(specs: Sequence[TaskSpec], options: ExecutorOptions) -> Iterator[TaskResult]:
    """Run ``specs`` (largest first) and yield each result as it finishes."""
    ordered = sorted(specs, key=lambda s: -s.cost)
    if not ordered:
        return
    if options.scheduler is None and options.n_workers == 0:
        for spec in ordered:
            yield run_task(spec)
        return
    yield from _execute_dask(ordered, options)


def _execute_dask(specs: list[TaskSpec], options: ExecutorOptions) -> Iterator[TaskResult]:
    import dask
    from distributed import as_completed

    specs = [replace(spec, threads=1) for spec in specs]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet_dask_logs())
        stack.enter_context(
            dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS})
        )
        client = _client(options, len(specs), stack)
        futures = {}
        for rank, spec in enumerate(specs):
            key = f"extract-{uuid.uuid4().hex[:12]}"
            future = client.submit(run_task, spec, key=key, pure=False, priority=-rank)
            futures[future] = spec
        try:
            for future in as_completed(futures, loop=client.loop):
                spec = futures.pop(future)
                yield _result_of(future, spec, options)
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


def _result_of(future, spec: TaskSpec, options: ExecutorOptions) -> TaskResult:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        limit = "" if options.scheduler else f" (memory limit {options.memory_limit} per worker)"
        return _failed(
            spec,
            f"the worker process died while extracting{limit}: out of memory or a crash; "
            "raise --memory-limit or use fewer workers",
        )
    except Exception as err:  # e.g. the task could not be unpickled on a remote worker
        return _failed(spec, f"task failed on the Dask cluster: {type(err).__name__}: {err}")


def _failed(spec: TaskSpec, message: str) -> TaskResult:
    return TaskResult(spec.patient_id, spec.sequence, spec.variant, error=message, file=spec.image)
