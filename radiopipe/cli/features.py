"""Feature commands: ``extract`` (pyradiomics on the cohort) and ``robustness`` (ICC)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from radiopipe.progress import console

if TYPE_CHECKING:
    import pandas as pd


WORKERS_HELP = "Local worker processes (default: one per core; 0: run in this process)."
SCHEDULER_HELP = "Use an existing Dask cluster at this address (e.g. tcp://10.0.0.5:8786)."
MEMORY_HELP = "Memory limit per local worker, e.g. 4GiB ('auto': RAM / workers)."


def register(app: typer.Typer) -> None:
    """Add ``extract`` and ``robustness`` to the app."""
    app.command("extract")(extract)
    app.command("robustness")(robustness)


def extract(
    manifest: Path = typer.Option(..., help="Cohort manifest CSV (with mask_<seq> columns)."),
    config: Path = typer.Option(..., help="pyradiomics parameter file, e.g. paper.yaml."),
    out: Path = typer.Option(..., help="Output folder (features.parquet, cache/, ...)."),
    workers: int | None = typer.Option(None, min=0, help=WORKERS_HELP),
    scheduler: str | None = typer.Option(None, help=SCHEDULER_HELP),
    memory_limit: str = typer.Option("auto", help=MEMORY_HELP),
    sequences: str = typer.Option("", help="Comma-separated sequences (default: all)."),
    cache: Path | None = typer.Option(None, help="Cache folder (default: OUT/cache)."),
    allow_failures: bool = typer.Option(False, help="Exit 0 even if some cases failed."),
) -> None:
    """Extract pyradiomics features for every patient and sequence (cached, resumable)."""
    from radiopipe.config import parse_config
    from radiopipe.config.extraction import ExtractionSettings
    from radiopipe.features.extract import FEATURES_FILE
    from radiopipe.features.stage import extract_features
    from radiopipe.runs import RunFolder

    settings = parse_config(
        {
            "params": config,
            "sequences": _split(sequences) or None,
            "allow_failures": allow_failures,
            "cache": cache,
            "execution": _execution(workers, scheduler, memory_limit),
        },
        ExtractionSettings,
        source="command line",
    )
    run = RunFolder.at(out)
    run.attach_log()
    result = extract_features(manifest, settings, run.root, check=False)
    params_sha = result.settings_sha256
    run.record(
        "extract",
        config=settings,
        manifest=manifest,
        extra={"settings_sha256": params_sha, "extraction": result.summary.as_dict()},
    )
    s = result.summary
    console.print(
        f"{len(result.features)} patients x {len(result.features.columns) - 1} features -> "
        f"{escape(str(run.path(FEATURES_FILE)))}\n"
        f"{s.tasks} tasks: {s.computed} computed, {s.cached} from cache, {s.failed} failed "
        f"({s.seconds:.1f} s on {s.executor}); settings hash {params_sha[:12]}"
    )
    _finish(result.failures, allow_failures, run.path("failures.csv"))


def robustness(
    manifest: Path = typer.Option(..., help="Cohort manifest CSV (mask_<seq>, mask2_<seq>)."),
    config: Path = typer.Option(..., help="pyradiomics parameter file (as for extract)."),
    out: Path = typer.Option(..., help="Output folder (icc.parquet, perturbed masks)."),
    source: str = typer.Option("auto", help="auto | second_mask | perturbation."),
    include_test: bool = typer.Option(
        False, help="Also use test patients (default: training only)."
    ),
    repeats: int = typer.Option(1, min=0, help="Random contour perturbations (perturbation mode)."),
    radius_mm: float = typer.Option(1.0, help="Erosion/dilation radius in mm."),
    max_patients: int | None = typer.Option(
        None, min=2, help="ICC on a random sample of this many patients (default: all)."
    ),
    seed: int = typer.Option(0, help="Seed of the contour perturbations and patient sample."),
    threshold: float = typer.Option(0.8, help="ICC threshold used in the printed summary."),
    workers: int | None = typer.Option(None, min=0, help=WORKERS_HELP),
    scheduler: str | None = typer.Option(None, help=SCHEDULER_HELP),
    memory_limit: str = typer.Option("auto", help=MEMORY_HELP),
    sequences: str = typer.Option("", help="Comma-separated sequences (default: all)."),
    cache: Path | None = typer.Option(
        None, help="Cache folder (default: OUT/cache); give extract's to reuse its features."
    ),
    allow_failures: bool = typer.Option(False, help="Exit 0 even if some cases failed."),
) -> None:
    """ICC(2,1) of every feature between two segmentations (or perturbed masks)."""
    from radiopipe.config import parse_config
    from radiopipe.config.extraction import RobustnessSettings
    from radiopipe.features.robustness import FAILURES_FILE, ICC_FILE
    from radiopipe.features.stage import robustness_icc
    from radiopipe.runs import RunFolder

    settings = parse_config(
        {
            "params": config,
            "source": source,
            "include_test": include_test,
            "max_patients": max_patients,
            "sample_seed": seed,
            "sequences": _split(sequences) or None,
            "allow_failures": allow_failures,
            "cache": cache,
            "threshold": threshold,
            "perturbation": {"contour_repeats": repeats, "radius_mm": radius_mm, "seed": seed},
            "execution": _execution(workers, scheduler, memory_limit),
        },
        RobustnessSettings,
        source="command line",
    )
    run = RunFolder.at(out)
    run.attach_log()
    result = robustness_icc(manifest, settings, run.root, check=False)
    run.record(
        "robustness",
        config=settings,
        seed=seed,
        manifest=manifest,
        extra={"settings_sha256": result.settings_sha256, "robustness": result.summary.as_dict()},
    )
    _print_icc(result.icc, threshold, result.source, result.n_patients)
    console.print(f"wrote {escape(str(run.path(ICC_FILE)))}")
    _finish(result.failures, allow_failures, run.path(FAILURES_FILE))


def _execution(workers: int | None, scheduler: str | None, memory_limit: str) -> dict:
    return {"workers": workers, "scheduler": scheduler, "memory_limit": memory_limit}


def _print_icc(icc: pd.DataFrame, threshold: float, source: str, n_patients: int) -> None:
    table = Table(title=f"ICC(2,1) by sequence and class ({source}, {n_patients} patients)")
    for column in ("sequence", "class", "features", f"ICC >= {threshold:g}", "median ICC"):
        table.add_column(column)
    for (seq, cls), group in icc.groupby(["sequence", "feature_class"], sort=False):
        kept = int((group["icc"] >= threshold).sum())
        table.add_row(seq, cls, str(len(group)), str(kept), f"{group['icc'].median():.3f}")
    console.print(table)


def _finish(failures: pd.DataFrame, allow_failures: bool, path: Path) -> None:
    if failures.empty:
        return
    table = Table(title=escape(f"{len(failures)} failed task(s) (all listed in {path})"))
    for column in ("patient", "sequence", "problem"):
        table.add_column(column, overflow="fold")
    for row in failures.head(20).itertuples(index=False):
        problem = escape(f"{row.error} ({row.file})")
        table.add_row(escape(str(row.patient_id)), escape(str(row.sequence)), problem)
    console.print(table)
    if allow_failures:
        console.print("[yellow]continuing: --allow-failures is set[/]")
        return
    console.print("[red]some cases failed[/]; fix them or pass --allow-failures")
    raise typer.Exit(1)


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]
