"""``radiopipe synth``: write the synthetic multi-centre pelvic MRI cohort."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from radiopipe.progress import console

# Shown in --help; the library's values (radiopipe.config.synth) are the source of truth and a
# test checks that these texts agree with them. Literals keep `radiopipe --help` fast.
EFFECT_SIZE_DEFAULT_TEXT = "2.5"
POSITIVE_FRACTION_DEFAULT_TEXT = "0.57"


def register(app: typer.Typer) -> None:
    """Add ``synth`` to the app."""
    app.command("synth")(synth)


def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the cohort into."),
    sites: str = typer.Option("A:300,B:60", help="Sites and patient counts, SITE:COUNT,..."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same bytes."),
    size: str = typer.Option("default", help="Volume size: default, small or tiny."),
    effect_size: float | None = typer.Option(
        None,
        help="SD of the outcome log-odds explained by the hidden properties "
        f"(default {EFFECT_SIZE_DEFAULT_TEXT}).",
    ),
    positive_fraction: float | None = typer.Option(
        None,
        help="Expected fraction of favourable responses, label 1 "
        f"(default {POSITIVE_FRACTION_DEFAULT_TEXT}).",
    ),
    external_sites: str | None = typer.Option(
        None, help="Comma-separated external test sites ('none': none). Default: B if present."
    ),
    internal_test_fraction: float = typer.Option(
        0.2, help="Fraction of each non-external site held out as internal test."
    ),
    scanner_effect: float = typer.Option(
        1.0,
        "--scanner-effect",
        help="Scanner differences between sites: 0 = identical scanners (all like site A), "
        "1 = each site's own scanner, 2 = strong (deviations from site A doubled).",
    ),
    confound: bool = typer.Option(
        False,
        "--confound",
        help="Site prevalence differs: each site shifts the outcome log-odds, evenly from "
        "-SHIFT (first site) to +SHIFT (last); recorded in synth.json and truth.csv.",
    ),
    confound_shift: float = typer.Option(
        1.0, "--confound-shift", help="SHIFT of --confound (log-odds)."
    ),
    workers: int | None = typer.Option(
        None, help="Worker processes (default: all cores; 0: in this process)."
    ),
    force: bool = typer.Option(False, help="Render every patient again."),
    overwrite: bool = typer.Option(
        False, help="Replace a synthetic cohort made with other settings in --out."
    ),
    preview: Path | None = typer.Option(
        None, help="Also save a PNG of middle slices with mask contours for a few patients."
    ),
    format: str = typer.Option(
        "nifti",
        "--format",
        help="nifti, or dicom: also write OUT/dicom/ (a PACS-style export), "
        "OUT/import_rules.yaml and OUT/clinical.csv for `radiopipe import dicom`.",
    ),
) -> None:
    """Write a synthetic two-sequence pelvic MRI cohort with masks, outcome and manifest."""
    from radiopipe.cli.stage import run_stage
    from radiopipe.config import parse_config
    from radiopipe.config.pipeline import CohortStep
    from radiopipe.config.synth import SynthConfig, parse_site_list, parse_sites
    from radiopipe.pipeline.cohort_stages import cohort_stage

    if format not in ("nifti", "dicom"):
        raise typer.BadParameter(f"--format {format!r}: use nifti or dicom")
    start = time.perf_counter()
    outcome = {"effect_size": effect_size, "positive_fraction": positive_fraction}
    data = {
        "sites": parse_sites(sites),
        "seed": seed,
        "size": size,
        "external_sites": parse_site_list(external_sites),
        "internal_test_fraction": internal_test_fraction,
        "scanner_effect": scanner_effect,
        "confound": confound,
        "confound_shift": confound_shift,
    } | {k: v for k, v in outcome.items() if v is not None}
    settings = parse_config(data, SynthConfig, source="command line")
    if workers is not None and workers < 0:
        raise typer.BadParameter("must be 0 or more", param_hint="--workers")
    stage = cohort_stage(
        CohortStep(synth=settings), max(workers, 1) if workers is not None else None, overwrite
    )
    outputs, _ = run_stage(stage, out, force)
    manifest = outputs["manifest"]
    if format == "dicom":
        from radiopipe.synth.dicom_export import export_dicom

        console.print(f"wrote {export_dicom(out, seed, show_progress=True)}")
    elapsed = time.perf_counter() - start
    _print_summary(manifest)
    console.print(f"wrote {manifest} ({elapsed:.1f} s)")
    if preview is not None:
        from radiopipe.synth.preview import save_slices

        console.print(f"wrote {save_slices(manifest, preview)}")


def _print_summary(manifest: Path) -> None:
    import pandas as pd

    table = pd.read_csv(manifest, dtype={"label": int})
    summary = Table(title="synthetic cohort")
    for column in ("site", "split", "patients", "favourable (label 1)"):
        summary.add_column(column)
    for (site, split), group in table.groupby(["site", "split"], sort=False):
        positives = int(group["label"].sum())
        summary.add_row(
            str(site), str(split), str(len(group)), f"{positives} ({positives / len(group):.0%})"
        )
    console.print(summary)
