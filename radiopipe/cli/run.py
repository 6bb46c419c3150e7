"""``radiopipe run``: the whole study of one cohort, from a pipeline YAML."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from radiopipe.cli.group import results
from radiopipe.progress import console


def register(app: typer.Typer) -> None:
    """Add ``run`` to the app."""
    app.command("run")(run)


def run(
    pipeline: Path = typer.Argument(..., help="Pipeline YAML, e.g. pipelines/demo.yaml."),
    manifest: Path | None = typer.Option(
        None, help="Cohort manifest CSV; replaces the pipeline's cohort section."
    ),
    out: Path | None = typer.Option(None, help="Run folder (default: runs/<name>)."),
    force: str = typer.Option(
        "",
        help="Comma-separated stages to redo from scratch, with every stage that reads them "
        "('all' for every stage).",
    ),
    workers: int | None = typer.Option(
        None, min=0, help="Worker processes for synthesis and extraction (default: the YAML's)."
    ),
    seed: int | None = typer.Option(
        None, min=0, help="Seed of every seeded stage (default: the pipeline's `seed`)."
    ),
    dry_run: bool = typer.Option(False, help="List the stages that would run, then stop."),
) -> None:
    """Run a whole study from a pipeline YAML, skipping stages already done for the same inputs.

    Stages: cohort, validate, preprocess*, segment*, design, extract, robustness*, train,
    deep*, evaluate, explain*, report (* when the pipeline configures them).
    """
    from radiopipe.config.pipeline import load_pipeline
    from radiopipe.pipeline import build_stages, run_pipeline

    config = load_pipeline(pipeline, manifest)
    if seed is not None:
        config = config.model_copy(update={"seed": seed})
    if dry_run:
        names = [s.name for s in build_stages(config, workers)]
        results.print(f"{escape(config.name)}: " + " -> ".join(names))
        return
    forced = frozenset(s.strip() for s in force.split(",") if s.strip())

    def announce(stage: str, status: str) -> None:
        if status == "running":
            console.rule(f"[bold]{stage}")
        elif status == "skipped":
            console.print(f"[dim]{stage}: up to date, skipped[/]")

    result = run_pipeline(config, out, force=forced, workers=workers, on_stage=announce)
    _print_stages(result)
    for kind, path in result.reports.items():
        console.print(f"{kind.upper()} report: {escape(str(path))}")
        print(path)  # the report paths on stdout, for scripts


def _print_stages(result) -> None:
    from rich.table import Table

    table = Table(title=f"run folder {escape(str(result.run))}")
    for column in ("stage", "status", "seconds", "CPU seconds"):
        table.add_column(column)
    for report in result.stages:
        table.add_row(
            report.name, report.status, f"{report.seconds:.1f}", f"{report.cpu_seconds:.1f}"
        )
    console.print(table)
