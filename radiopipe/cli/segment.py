"""``radiopipe segment``: train the V-Net, predict masks for a cohort, evaluate them."""

from __future__ import annotations

from pathlib import Path

import typer

from radiopipe.cli.stage import FORCE_HELP
from radiopipe.progress import console

INTERRUPTED_EXIT = 130


def register(app: typer.Typer) -> None:
    """Add the ``segment`` sub-app with ``train``, ``predict`` and ``evaluate``."""
    segment = typer.Typer(help="V-Net lesion auto-segmentation (GPU when present, CPU otherwise).")
    segment.command("train")(train)
    segment.command("predict")(predict)
    segment.command("evaluate")(evaluate)
    app.add_typer(segment, name="segment")


def train(
    manifest: Path = typer.Option(..., help="Cohort manifest; only split 'train' is used."),
    config: Path = typer.Option(
        Path("configs/segmentation/vnet.yaml"), help="Segmentation config YAML."
    ),
    out: Path = typer.Option(..., help="Model folder to write."),
    resume: bool = typer.Option(False, help="Continue an interrupted run in --out."),
    device: str = typer.Option("", help="auto, cpu or cuda (default: the config's)."),
    stop_after: int | None = typer.Option(
        None, min=1, help="Stop after this many epochs per model (resume later)."
    ),
    seed: int | None = typer.Option(None, help="Override the config's seed."),
) -> None:
    """Train one V-Net per sequence (or one on all sequences as channels)."""
    from radiopipe.cohort import read_manifest
    from radiopipe.config import load_config
    from radiopipe.config.segmentation import SegmentationConfig
    from radiopipe.segment.runner import train as run

    settings = load_config(config, SegmentationConfig)
    if seed is not None:
        settings = settings.model_copy(update={"seed": seed})
    cohort = read_manifest(manifest)
    try:
        states = run(cohort, settings, out, resume=resume, stop_after=stop_after,
                     device=_device(device))  # fmt: skip
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]; continue with the same command plus --resume "
                      f"(the last finished epoch is saved in {out})")  # fmt: skip
        raise typer.Exit(INTERRUPTED_EXIT) from None
    for name, state in states.items():
        status = state.stop_reason if state.done else "paused (resume with --resume)"
        console.print(
            f"{name}: {state.epoch} epochs, best validation Dice {state.best_dice:.3f} "
            f"(epoch {state.best_epoch}), {status}"
        )
    console.print(f"model folder: {out}")


def predict(
    model: Path = typer.Option(..., help="Trained model folder (from segment train)."),
    manifest: Path = typer.Option(..., help="Cohort manifest to segment."),
    out: Path = typer.Option(..., help="Folder for masks, manifest.csv, qc.csv."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    split: str | None = typer.Option(None, help="Only patients of this split."),
    save_probabilities: bool = typer.Option(False, help="Also write probability maps."),
    allow_failures: bool = typer.Option(False, help="Exit 0 even if some patients failed."),
    force: bool = typer.Option(False, help=FORCE_HELP),
) -> None:
    """Segment every patient; write masks in original geometry, a new manifest and a QC table.

    Runs as the pipeline's segment stage (same provenance and up-to-date marker): a second
    call with the same manifest, model and settings does nothing; after a change, patients
    whose images and model are unchanged are reused.
    """
    from radiopipe.cli.stage import run_stage
    from radiopipe.config.pipeline import SegmentStep
    from radiopipe.pipeline.cohort_stages import segment_stage

    step = SegmentStep(
        model=model, if_missing="error", allow_failures=allow_failures,
        settings=_stage_settings(device, split, save_probabilities),
    )  # fmt: skip
    results: list = []
    stage = segment_stage(step, on_result=results.append, strict=False)
    assert stage is not None  # if_missing="error": no model raises instead
    outputs, _ = run_stage(stage, out, force, {"cohort": {"manifest": manifest}})
    if not results:
        console.print(f"manifest: {outputs['manifest']}")
        return
    result = results[0]
    flagged = result.qc[~result.qc["passed"].astype(bool)] if not result.qc.empty else result.qc
    segmented = result.qc["patient_id"].nunique() if not result.qc.empty else 0
    console.print(
        f"segmented {segmented}/{segmented + len(result.failures)} patients "
        f"({result.reused} reused); {len(flagged)} mask(s) flagged by QC; manifest: "
        f"{result.manifest}"
    )
    for row in flagged.itertuples():
        console.print(f"  QC {row.patient_id} {row.sequence}: {row.flags}")
    if len(result.failures):
        for row in result.failures.itertuples():
            console.print(f"  [red]failed[/] {row.patient_id}: {row.error}", highlight=False)
        if not allow_failures:
            raise typer.Exit(1)


def _stage_settings(device: str, split: str | None, save_probabilities: bool):
    """The segment stage's settings from the flags (no scoring: see ``segment evaluate``)."""
    from pydantic import ValidationError

    from radiopipe.config.segmentation import SegmentStageSettings

    try:
        return SegmentStageSettings(
            device=_device(device) or "auto", splits=[split] if split is not None else None,
            save_probabilities=save_probabilities, evaluate=False,
        )  # fmt: skip
    except ValidationError as err:
        message = err.errors()[0]["msg"].removeprefix("Value error, ")
        raise typer.BadParameter(f"--split {split!r}: {message}") from None


def evaluate(
    manifest: Path = typer.Option(..., help="Manifest whose mask_<seq> are automatic masks."),
    out: Path = typer.Option(..., help="Folder for the metric tables."),
    reference: Path | None = typer.Option(
        None, help="Manifest holding reference masks (default: mask2_<seq> of --manifest)."
    ),
    sequences: str = typer.Option("", help="Comma-separated sequences (default: all)."),
    overlays: int = typer.Option(4, min=0, help="Cases per sequence drawn as PNG overlays."),
) -> None:
    """Dice, HD95, mean surface distance, volume difference per patient; summary tables."""
    from rich.table import Table

    from radiopipe.cohort import read_manifest
    from radiopipe.segment.evaluate import run_evaluation

    cohort = read_manifest(manifest)
    ref = read_manifest(reference) if reference is not None else None
    chosen = [s.strip() for s in sequences.split(",") if s.strip()] or None
    result = run_evaluation(cohort, out, chosen, ref, overlays)
    table = Table(title="Segmentation agreement (mean ± SD)")
    for column in ("sequence", "split", "n", "Dice", "HD95 mm", "MSD mm", "ΔV ml"):
        table.add_column(column)
    for r in result.summary.itertuples():
        table.add_row(
            r.sequence, r.split or "-", str(r.n), _pm(r.dice_mean, r.dice_sd, 3),
            _pm(r.hd95_mm_mean, r.hd95_mm_sd, 1), _pm(r.msd_mm_mean, r.msd_mm_sd, 2),
            _pm(r.volume_diff_ml_mean, r.volume_diff_ml_sd, 1),
        )  # fmt: skip
    console.print(table)
    for file in result.files:
        console.print(f"wrote {file}")


def _pm(mean: float, sd: float, digits: int) -> str:
    if mean != mean:  # NaN
        return "-"
    return f"{mean:.{digits}f}" + ("" if sd != sd else f" ± {sd:.{digits}f}")


def _device(value: str) -> str | None:
    value = value.strip().lower()
    if value and value not in ("auto", "cpu", "cuda"):
        raise typer.BadParameter(f"--device {value!r}: use auto, cpu or cuda")
    return value or None
