"""Preprocess command: N4, resampling, registration and normalisation for a whole cohort."""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from radiopipe.progress import console

MAX_LISTED_FAILURES = 20


def register(app: typer.Typer) -> None:
    """Add ``preprocess`` to the app."""
    app.command("preprocess")(preprocess)


def preprocess(
    manifest: Path = typer.Option(..., help="Cohort manifest CSV."),
    config: Path | None = typer.Option(
        None, help="Preprocessing settings YAML (default: built-in, as configs/preprocess)."
    ),
    out: Path = typer.Option(..., help="Output folder (volumes, transforms, manifest.csv)."),
    workers: int = typer.Option(
        1, min=0, help="Patients processed in parallel (0 or 1: in this process)."
    ),
    force: bool = typer.Option(
        False, help="Redo every patient, even those finished before with the same settings."
    ),
    seed: int | None = typer.Option(None, help="Override the settings' seed."),
    allow_failures: bool = typer.Option(
        False, help="Exit 0 even if some patients failed (they are left out of manifest.csv)."
    ),
) -> None:
    """Preprocess every patient; write volumes, transforms and a new manifest under --out."""
    from radiopipe.cli.stage import run_stage
    from radiopipe.config import load_config
    from radiopipe.config.pipeline import PreprocessStep
    from radiopipe.config.preprocess import PreprocessSettings
    from radiopipe.pipeline.cohort_stages import preprocess_stage

    settings = load_config(config, PreprocessSettings) if config else PreprocessSettings()
    if seed is not None:
        settings = settings.model_copy(update={"seed": seed})
    step = PreprocessStep(workers=max(workers, 1), allow_failures=allow_failures)
    results: list = []
    stage = preprocess_stage(step, None, settings, on_result=results.append, strict=False)
    run_stage(stage, out, force, {"cohort": {"manifest": manifest}})
    if not results:
        return
    summary = results[0]
    console.print(
        f"preprocess: {summary.processed} processed, {summary.skipped} skipped (up to date), "
        f"{len(summary.failures)} failed; manifest {summary.manifest}"
    )
    if summary.ok:
        return
    table = Table(title=f"{len(summary.failures)} patient(s) failed ({summary.failures_file})")
    for column in ("patient", "sequence", "file", "error"):
        table.add_column(column, overflow="fold")
    for failure in summary.failures[:MAX_LISTED_FAILURES]:
        table.add_row(*(escape(value) for value in astuple(failure)))
    console.print(table)
    if len(summary.failures) > MAX_LISTED_FAILURES:
        console.print(f"... and {len(summary.failures) - MAX_LISTED_FAILURES} more")
    if not allow_failures:
        console.print(
            "[red]some patients failed[/]: fix them and re-run (finished patients are skipped), "
            "or pass --allow-failures to continue without them"
        )
        raise typer.Exit(1)
