"""Feature commands: ``extract`` (pyradiomics on the cohort) and ``robustness`` (ICC)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from radiopipe.cli.stage import FORCE_HELP
from radiopipe.progress import console

if TYPE_CHECKING:
    import pandas as pd


WORKERS_HELP = "Local worker processes (default: one per core; 0: run in this process)."
SCHEDULER_HELP = "Use an existing Dask cluster at this address (e.g. tcp://10.0.0.5:8786)."
MEMORY_HELP = "Memory limit per local worker, e.g. 4GiB ('auto': RAM / workers)."


def register(app: typer.Typer) -> None:
    """Add ``extract`` and ``robustness`` to the app (``--config``: old name of ``--params``)."""
    app.command("extract")(extract)
    app.command("robustness")(robustness)


def extract(
    manifest: Path = typer.Option(..., help="Cohort manifest CSV (with mask_<seq> columns)."),
    params: Path = typer.Option(..., help="pyradiomics parameter file, e.g. paper.yaml."),
    out: Path = typer.Option(..., help="Output folder (features.parquet, cache/, ...)."),
    workers: int | None = typer.Option(None, min=0, help=WORKERS_HELP),
    scheduler: str | None = typer.Option(None, help=SCHEDULER_HELP),
    memory_limit: str = typer.Option("auto", help=MEMORY_HELP),
    sequences: str = typer.Option("", help="Comma-separated sequences (default: all)."),
    cache: Path | None = typer.Option(None, help="Cache folder (default: OUT/cache)."),
    allow_failures: bool = typer.Option(False, help="Exit 0 even if some cases failed."),
    force: bool = typer.Option(False, help=FORCE_HELP),
) -> None:
    """Extract pyradiomics features for every patient and sequence (cached, resumable)."""
    from radiopipe.config.extraction import ExtractionSettings
    from radiopipe.features.extract import FAILURES_FILE, FEATURES_FILE
    from radiopipe.pipeline.feature_stages import extract_stage

    settings = _parse(
        {
            "params": params,
            "sequences": _split(sequences) or None,
            "allow_failures": allow_failures,
            "cache": cache,
            "execution": _execution(workers, scheduler, memory_limit),
        },
        ExtractionSettings,
    )
    results: list = []
    stage = extract_stage(settings, on_result=results.append, strict=False)
    _run(stage, out, force, manifest)
    if not results:
        return
    result = results[0]
    s = result.summary
    console.print(
        f"{len(result.features)} patients x {len(result.features.columns) - 1} features -> "
        f"{escape(str(out / FEATURES_FILE))}\n"
        f"{s.tasks} tasks: {s.computed} computed, {s.cached} from cache, {s.failed} failed "
        f"({s.seconds:.1f} s on {s.executor}); settings hash {result.settings_sha256[:12]}"
    )
    _finish(result.failures, allow_failures, out / FAILURES_FILE)


def robustness(
    manifest: Path = typer.Option(..., help="Cohort manifest CSV (mask_<seq>, mask2_<seq>)."),
    params: Path = typer.Option(..., help="pyradiomics parameter file (as for extract)."),
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
    force: bool = typer.Option(False, help=FORCE_HELP),
) -> None:
    """ICC(2,1) of every feature between two segmentations (or perturbed masks)."""
    from radiopipe.config.extraction import RobustnessSettings
    from radiopipe.features.robustness import FAILURES_FILE, ICC_FILE
    from radiopipe.pipeline.feature_stages import robustness_stage

    settings = _parse(
        {
            "params": params,
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
    )
    results: list = []
    stage = robustness_stage(settings, on_result=results.append, strict=False)
    _run(stage, out, force, manifest)
    if not results:
        return
    result = results[0]
    _print_icc(result.icc, threshold, result.source, result.n_patients)
    console.print(f"wrote {escape(str(out / ICC_FILE))}")
    _finish(result.failures, allow_failures, out / FAILURES_FILE)


# Settings keys the command line sets, and the flag that sets each (for error messages).
FLAGS = {
    "params": "--params", "sequences": "--sequences", "cache": "--cache", "source": "--source",
    "max_patients": "--max-patients", "sample_seed": "--seed", "threshold": "--threshold",
    "execution.workers": "--workers", "execution.scheduler": "--scheduler",
    "execution.memory_limit": "--memory-limit", "perturbation.contour_repeats": "--repeats",
    "perturbation.radius_mm": "--radius-mm", "perturbation.seed": "--seed",
}  # fmt: skip


def _parse(data: dict, model: type):
    """Validate the command line's settings; an error names the flag, not the settings key."""
    from radiopipe.config import parse_config
    from radiopipe.errors import ConfigError

    try:
        return parse_config(data, model, source="command line")
    except ConfigError as err:
        problems = [ln.strip().removeprefix("- ") for ln in str(err).splitlines()[1:]]
        text = "; ".join(problems) or str(err)
        for key, flag in sorted(FLAGS.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(f"key '{key}'", flag).replace(f"'{key}'", flag)
        text = text.replace(" in command line", "").replace("Value error, ", "")
        raise ConfigError(f"invalid option {text}") from None


def _run(stage, out: Path, force: bool, manifest: Path) -> None:
    from radiopipe.cli.stage import run_stage

    run_stage(stage, out, force=force, given={"cohort": {"manifest": manifest}})


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
