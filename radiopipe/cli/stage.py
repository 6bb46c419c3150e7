"""Run one stage from the command line through the stage engine (same provenance as a run)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.markup import escape

from radiopipe.pipeline.engine import Outputs, Stage, StageReport, run_single
from radiopipe.progress import console

FORCE_HELP = "Redo the stage even if OUT holds its outputs for the same inputs and settings."


def run_stage(
    stage: Stage,
    out: Path,
    force: bool = False,
    given: Mapping[str, Mapping[str, Path | None]] | None = None,
) -> tuple[Outputs, StageReport]:
    """Run ``stage`` with ``out`` as its folder; ``given`` stands in for earlier stages."""
    inputs = {
        stage_name: {k: Path(v) for k, v in files.items() if v is not None}
        for stage_name, files in (given or {}).items()
    }
    outputs, report = run_single(stage, out, force=force, given=inputs)
    if report.status == "skipped":
        console.print(
            f"[green]up to date[/]: {escape(str(out))} holds this {stage.name} for the same "
            "inputs and settings (use --force to redo it)"
        )
    return outputs, report
