"""The stage engine: run stages in order; skip a stage already done for the same inputs.

A stage's key is the hash of its settings and of the files it reads (the outputs of the stages
before it). A stage is skipped when the run folder records it finished for that key and its
outputs still exist; otherwise it runs and is recorded. A crash leaves earlier stages recorded,
so the next run resumes at the stage that failed (which may resume further inside itself, e.g.
extraction's per-task cache).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radiopipe.imaging import file_sha256
from radiopipe.runs import RunFolder

log = logging.getLogger(__name__)

Outputs = dict[str, Path]


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
class Stage:
    """One step: ``run(ctx, folder)`` writes into ``folder`` and returns its named outputs."""

    name: str
    run: Callable[[Context, Path], Outputs]
    settings: dict[str, Any] = field(default_factory=dict)
    reads: Callable[[Context], list[Path]] = lambda ctx: []

    def key(self, ctx: Context) -> str:
        """Hash of the settings and of the content of every file the stage reads."""
        files = {str(p): file_sha256(p) for p in self.reads(ctx) if Path(p).exists()}
        blob = json.dumps({"settings": self.settings, "files": files}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class StageReport:
    """How a stage went in this invocation."""

    name: str
    status: str  # "ran" or "skipped"
    seconds: float


def run_stages(
    stages: list[Stage],
    run: RunFolder,
    force: frozenset[str] = frozenset(),
    on_stage: Callable[[str, str], None] | None = None,
) -> tuple[Context, list[StageReport]]:
    """Run the stages in order; return the context (all outputs) and what happened to each."""
    ctx = Context(run)
    reports = []
    for stage in stages:
        folder = run.path(stage.name)
        key = stage.key(ctx)
        marker = run.path(".stages", f"{stage.name}.json")
        start = time.perf_counter()
        if stage.name not in force and run.stage_done(stage.name, key):
            recorded = json.loads(marker.read_text())["named_outputs"]
            ctx.outputs[stage.name] = {k: run.root / v for k, v in recorded.items()}
            status = "skipped"
        else:
            if on_stage:
                on_stage(stage.name, "running")
            log.info("stage %s: running", stage.name)
            marker.unlink(missing_ok=True)  # outputs about to change: not done until it ends
            folder.mkdir(parents=True, exist_ok=True)
            produced = stage.run(ctx, folder)
            ctx.outputs[stage.name] = produced
            run.mark_stage(stage.name, key, list(produced.values()), named=produced)
            status = "ran"
        elapsed = time.perf_counter() - start
        reports.append(StageReport(stage.name, status, elapsed))
        if on_stage:
            on_stage(stage.name, status)
        log.info("stage %s: %s (%.1f s)", stage.name, status, elapsed)
    return ctx, reports
