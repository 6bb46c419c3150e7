"""The stage engine: the one place that hashes, skips, marks, records provenance and logs.

A stage declares its typed inputs (named files, most of them outputs of earlier stages), its
settings (a pydantic model) and its named outputs; its ``run`` function is a plain call of a
library function on those inputs. The engine:

- keys the stage by the hash of its settings and of the content of every input file;
- skips it when ``.stages/<stage>.json`` records it finished for that key, its outputs still
  exist, and no stage it reads ran in this invocation;
- otherwise clears the marker, (with ``force``) removes the stage's resumable partial work,
  runs it with its log attached, checks its declared outputs, writes its provenance
  (``provenance.json`` and ``config.resolved.yaml`` in the stage folder) and marks it done.

``radiopipe run`` runs the stage graph in ``runs/<name>/<stage>/``; the single-stage commands
(``radiopipe extract``, ``train``, ...) run one stage through :func:`run_single` with the
``--out`` folder as the stage folder, so both record the same provenance. A crash leaves the
earlier stages marked, so the next run resumes at the stage that failed (which may resume
further inside itself: finished outer folds, deep tasks, the extraction cache).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from radiopipe.errors import RadiopipeError
from radiopipe.hashing import file_sha256, json_sha256
from radiopipe.runs import STAGES_DIR, RunFolder

log = logging.getLogger(__name__)

Outputs = dict[str, Path]


@dataclass(frozen=True)
class From:
    """An input that is a named output of an earlier stage.

    With several stages, the latest of them (first listed) that produced it; ``optional``
    inputs resolve to None when no stage produced them.
    """

    stages: tuple[str, ...]
    name: str
    optional: bool = False

    def __init__(self, stages: str | tuple[str, ...], name: str, optional: bool = False):
        object.__setattr__(self, "stages", (stages,) if isinstance(stages, str) else stages)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "optional", optional)

    def resolve(self, ctx: Context) -> tuple[str | None, Path | None]:
        """The producing stage and the file, or (None, None) for an absent optional input."""
        for stage in self.stages:
            if ctx.has(stage, self.name):
                return stage, ctx.output(stage, self.name)
        if self.optional:
            return None, None
        raise RadiopipeError(
            f"no stage of this run has produced {self.name!r} (from {' or '.join(self.stages)})"
        )


# Where the current cohort manifest comes from: the latest stage that rewrites it.
MANIFEST = From(("segment", "preprocess", "cohort"), "manifest")

Input = From | Path | None


@dataclass
class Context:
    """What a stage sees: the run folder, and the outputs of the stages before it."""

    run: RunFolder
    outputs: dict[str, Outputs] = field(default_factory=dict)

    def output(self, stage: str, name: str) -> Path:
        """A named output of an earlier stage."""
        try:
            return self.outputs[stage][name]
        except KeyError:
            raise KeyError(f"stage {stage!r} has no output {name!r} in this run") from None

    def has(self, stage: str, name: str) -> bool:
        """True if an earlier stage produced this output."""
        return name in self.outputs.get(stage, {})


@dataclass
class StageCall:
    """What a stage's ``run`` gets: its resolved inputs, its folder, and a provenance note."""

    ctx: Context
    folder: Path
    inputs: dict[str, Path | None]
    provenance: dict[str, Any] = field(default_factory=dict)
    complete: bool = True  # False: outputs and provenance are kept, the stage is not marked done

    def __getitem__(self, name: str) -> Path:
        path = self.inputs[name]
        if path is None:
            raise KeyError(f"input {name!r} is absent in this run")
        return path

    def get(self, name: str) -> Path | None:
        """An optional input (None when absent)."""
        return self.inputs.get(name)


@dataclass
class Stage:
    """One step of the study.

    ``inputs``: named input files (:class:`From` an earlier stage, or a given path);
    ``settings``: the pydantic model that decides its outputs (hashed, saved as the stage's
    ``config.resolved.yaml``); ``outputs``: the names its run must return;
    ``run(call)``: the plain library call, returning its named output files;
    ``scratch``: resumable partial work inside its folder, removed when the stage is forced;
    ``identity``: what is hashed instead of the full settings (e.g. without worker counts);
    ``reads_all``: the stage reads every earlier output (the report).
    """

    name: str
    run: Callable[[StageCall], Outputs]
    settings: BaseModel | None = None
    inputs: Mapping[str, Input] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    scratch: tuple[str, ...] = ()
    identity: dict[str, Any] | None = None
    reads_all: bool = False
    command: str | None = None

    def resolve(self, ctx: Context) -> tuple[dict[str, Path | None], set[str]]:
        """The input files by name, and the earlier stages they come from."""
        files: dict[str, Path | None] = {}
        upstream: set[str] = set()
        for name, ref in self.inputs.items():
            if isinstance(ref, From):
                stage, files[name] = ref.resolve(ctx)
                if stage is not None:
                    upstream.add(stage)
            else:
                files[name] = Path(ref) if ref is not None else None
        if self.reads_all:
            upstream |= set(ctx.outputs)
            for stage, outputs in ctx.outputs.items():
                files |= {f"{stage}.{k}": p for k, p in outputs.items() if p.is_file()}
        return files, upstream

    def key(self, files: Mapping[str, Path | None]) -> str:
        """Hash of the settings and of the content of every input file."""
        hashes = {name: _content(p) for name, p in sorted(files.items())}
        return json_sha256({"settings": self.key_settings(), "files": hashes})

    def key_settings(self) -> Any:
        """What of the settings decides the outputs."""
        if self.identity is not None:
            return self.identity
        return self.settings.model_dump(mode="json") if self.settings is not None else None

    @property
    def seed(self) -> int | None:
        """The stage's seed, when its settings have one."""
        value = getattr(self.settings, "seed", None)
        return value if isinstance(value, int) else None


@dataclass(frozen=True)
class StageReport:
    """How a stage went in this invocation."""

    name: str
    status: str  # "ran", "skipped" or "incomplete" (ran, not marked done: e.g. failed cases)
    seconds: float
    cpu_seconds: float = 0.0  # this process and its finished child processes


def run_stages(
    stages: list[Stage],
    run: RunFolder,
    force: frozenset[str] = frozenset(),
    on_stage: Callable[[str, str], None] | None = None,
) -> tuple[Context, list[StageReport]]:
    """Run the stages in order in ``run/<stage>/``; return the context and what happened.

    A stage in ``force``, or one reading a stage that ran now, runs again; forced stages
    lose their resumable partial work first.
    """
    ctx = Context(run)
    reports, ran = [], set()
    for stage in stages:
        report = execute(
            stage, ctx, run.path(stage.name), force=stage.name in force, ran=ran, on_stage=on_stage
        )
        if report.status != "skipped":
            ran.add(stage.name)
        reports.append(report)
    return ctx, reports


def run_single(
    stage: Stage,
    out: str | Path,
    force: bool = False,
    given: Mapping[str, Outputs] | None = None,
    on_stage: Callable[[str, str], None] | None = None,
) -> tuple[Outputs, StageReport]:
    """Run one stage with ``out`` as its folder (the single-stage CLI commands).

    ``given`` stands in for the earlier stages' outputs (e.g. ``{"cohort": {"manifest": m}}``).
    """
    run = RunFolder.at(out)
    ctx = Context(run, {k: dict(v) for k, v in (given or {}).items()})
    report = execute(stage, ctx, run.root, force=force, ran=set(), on_stage=on_stage)
    return ctx.outputs[stage.name], report


def execute(
    stage: Stage,
    ctx: Context,
    folder: Path,
    force: bool = False,
    ran: set[str] | frozenset[str] = frozenset(),
    on_stage: Callable[[str, str], None] | None = None,
) -> StageReport:
    """Run or skip one stage; its outputs go into ``ctx.outputs[stage.name]``."""
    run = ctx.run
    files, upstream = stage.resolve(ctx)
    key = stage.key(files)
    marker = run.path(STAGES_DIR, f"{stage.name}.json")
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    fresh_upstream = sorted(upstream & set(ran))
    if not force and not fresh_upstream and run.stage_done(stage.name, key):
        recorded = json.loads(marker.read_text(encoding="utf-8"))["named_outputs"]
        ctx.outputs[stage.name] = {k: run.root / v for k, v in recorded.items()}
        status = "skipped"
    else:
        if on_stage:
            on_stage(stage.name, "running")
        why = "forced" if force else f"after {', '.join(fresh_upstream)}" if fresh_upstream else ""
        log.info("stage %s: running%s", stage.name, f" ({why})" if why else "")
        marker.unlink(missing_ok=True)  # outputs about to change: not done until it ends
        folder.mkdir(parents=True, exist_ok=True)
        if force:
            _clear_scratch(stage, folder)
        produced, complete = _run_logged(stage, ctx, folder, files)
        ctx.outputs[stage.name] = produced
        if complete:
            run.mark_stage(stage.name, key, list(produced.values()), named=produced)
        status = "ran" if complete else "incomplete"
    elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    if on_stage:
        on_stage(stage.name, status)
    log.info("stage %s: %s (%.1f s, CPU %.1f s)", stage.name, status, elapsed, cpu)
    return StageReport(stage.name, status, elapsed, cpu)


def _cpu_seconds() -> float:
    """CPU time of this process and of its child processes that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _run_logged(
    stage: Stage, ctx: Context, folder: Path, files: dict[str, Path | None]
) -> tuple[Outputs, bool]:
    """Run the stage with its log attached; check its outputs; write its provenance."""
    record = RunFolder(folder)
    started = dt.datetime.now(dt.timezone.utc)
    handler = record.attach_log()
    try:
        call = StageCall(ctx, folder, files)
        produced = dict(stage.run(call))
    finally:
        logging.getLogger("radiopipe").removeHandler(handler)
        handler.close()
    missing = [n for n in stage.outputs if n not in produced or not produced[n].exists()]
    if missing:
        raise RadiopipeError(f"stage {stage.name} did not write its output(s) {', '.join(missing)}")
    inputs = {
        name: {"path": str(p.resolve()), "sha256": _content(p)}
        for name, p in files.items()
        if p is not None and not name.count(".")
    }
    manifest = files.get("manifest")
    record.record(
        stage.command or stage.name,
        config=stage.settings,
        seed=stage.seed,
        manifest=manifest if manifest is not None and manifest.is_file() else None,
        started=started,
        extra={"stage": stage.name, "inputs": inputs, "complete": call.complete,
               **call.provenance},
    )  # fmt: skip
    return produced, call.complete


def _clear_scratch(stage: Stage, folder: Path) -> None:
    """Remove the stage's resumable partial work, so a forced stage really redoes it."""
    for name in stage.scratch:
        target = folder / name
        if target.is_dir():
            log.info("stage %s forced: removing %s", stage.name, target)
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def _content(path: Path | None) -> str | None:
    """SHA-256 of a file; a folder or absent path by name only."""
    if path is None:
        return None
    return file_sha256(path) if path.is_file() else f"path:{path}"


def stage_graph(stages: list[Stage]) -> dict[str, list[str]]:
    """Each stage and the earlier stages it may read (for docs and ``--dry-run``)."""
    names = [s.name for s in stages]
    graph = {}
    for i, stage in enumerate(stages):
        before = names[:i]
        if stage.reads_all:
            graph[stage.name] = before
            continue
        reads = {s for ref in stage.inputs.values() if isinstance(ref, From) for s in ref.stages}
        graph[stage.name] = [s for s in before if s in reads]
    return graph
