"""Cohort commands: validate a manifest; import nnU-Net or folder-per-patient layouts."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from radiopipe.cli.group import Group, results
from radiopipe.progress import console


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``import`` to the app."""
    app.command("validate")(validate)
    importer = typer.Typer(cls=Group, help="Build a manifest from an existing dataset layout.")
    importer.command("nnunet")(import_nnunet)
    importer.command("folders")(import_folders)
    importer.command("dicom")(import_dicom)
    app.add_typer(importer, name="import")


def validate(
    manifest: Path = typer.Argument(..., help="Cohort manifest CSV."),
    sequences: str = typer.Option("", help="Comma-separated sequences (default: image_* columns)."),
    mask_labels: str = typer.Option("0,1", help="Label values a mask may hold."),
    headers_only: bool = typer.Option(False, help="Skip reading mask voxels (empty/label checks)."),
    unlabelled: bool = typer.Option(False, help="Allow empty labels (a cohort to score)."),
    report: Path | None = typer.Option(None, help="Also write the problems to this CSV."),
    workers: int | None = typer.Option(
        None, min=0, help="Threads reading files (default: 2 per core, at most 8; 0: one)."
    ),
) -> None:
    """Check the whole cohort; list every problem (on stdout); exit 1 if there is any."""
    from radiopipe.atomic import write_csv
    from radiopipe.cohort.manifest import read_manifest
    from radiopipe.cohort.validate import problems_frame, validate_cohort

    labels = _integers(mask_labels, "--mask-labels")
    start = time.perf_counter()
    cohort = read_manifest(manifest, tuple(_split(sequences)) or None)
    problems = validate_cohort(
        cohort,
        mask_labels=labels,
        workers=max(workers, 1) if workers is not None else None,
        require_labels=not unlabelled,
        read_masks=not headers_only,
        show_progress=True,
    )
    elapsed = time.perf_counter() - start
    if report is not None:
        write_csv(report, problems_frame(problems))
    n = len(cohort.table)
    if not problems:
        results.print(
            f"[green]OK[/]: {n} patients, {len(cohort.sequences)} sequences "
            f"({', '.join(cohort.sequences)}), no problems ({elapsed:.1f} s)"
        )
        return
    table = Table(title=f"{len(problems)} problem(s) in {manifest}", show_lines=False)
    for column in ("patient", "file", "problem"):
        table.add_column(column, overflow="fold")
    base = cohort.source.parent if cohort.source else None
    for p in problems:
        table.add_row(p.patient_id, _shorten(p.file, base), p.problem)
    results.print(table)
    results.print(f"[red]{len(problems)} problem(s)[/] in {n} patients ({elapsed:.1f} s)")
    raise typer.Exit(1)


def import_nnunet(
    dataset: Path = typer.Argument(..., help="nnU-Net raw dataset folder (with dataset.json)."),
    clinical: Path = typer.Option(
        ..., help="CSV with patient_id, site, label[, split, covariates]."
    ),
    out: Path = typer.Option(..., help="Output folder (OUT/manifest.csv)."),
    channel: list[str] = typer.Option([], help="Channel mapping such as 0=t2w (repeatable)."),
    include_test: bool = typer.Option(False, help="Also import imagesTs/labelsTs."),
) -> None:
    """Write a manifest for an nnU-Net raw dataset plus a clinical table."""
    from radiopipe.cohort.importers import import_nnunet as run
    from radiopipe.cohort.manifest import write_manifest

    pairs = _pairs(channel, "--channel")
    indices = _integers(",".join(pairs), "--channel", what="a channel index (as in 0=t2w)")
    channels = dict(zip(indices, pairs.values(), strict=True)) or None
    table = run(dataset, clinical, channels=channels, include_test=include_test)
    target = write_manifest(table, manifest_path(out))
    console.print(f"wrote {target} ({len(table)} patients)")
    print(target)  # the manifest on stdout, for scripts


def import_folders(
    root: Path = typer.Argument(..., help="Folder holding one sub-folder per patient."),
    clinical: Path = typer.Option(
        ..., help="CSV with patient_id, site, label[, split, covariates]."
    ),
    out: Path = typer.Option(..., help="Output folder (OUT/manifest.csv)."),
    image: list[str] = typer.Option(
        [], help="Sequence glob such as t2w='T2*.nii.gz' (repeatable)."
    ),
    mask: list[str] = typer.Option([], help="Mask glob such as t2w='seg_T2*' (repeatable)."),
) -> None:
    """Write a manifest for a folder-per-patient tree (files or DICOM series folders)."""
    from radiopipe.cohort.importers import import_folders as run
    from radiopipe.cohort.manifest import write_manifest

    table = run(root, clinical, _pairs(image, "--image") or None, _pairs(mask, "--mask") or None)
    target = write_manifest(table, manifest_path(out))
    console.print(f"wrote {target} ({len(table)} patients)")
    print(target)  # the manifest on stdout, for scripts


def manifest_path(out: Path) -> Path:
    """``OUT/manifest.csv``; an ``OUT`` ending in .csv (the old meaning) is written as given."""
    if out.suffix.lower() == ".csv":
        console.print(f"[yellow]note:[/] --out is a folder now; writing {out} as given")
        return out
    return out / "manifest.csv"


def import_dicom(
    root: Path = typer.Argument(..., help="PACS export folder (any nesting, any file names)."),
    rules: Path = typer.Option(..., help="YAML rules choosing one series per sequence."),
    clinical: Path = typer.Option(
        ..., help="CSV with patient_id, site, label[, split, covariates]."
    ),
    out: Path = typer.Option(..., help="Folder for images/, masks/ and manifest.csv."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only list each patient's series and the rules' picks."
    ),
) -> None:
    """Convert a DICOM export (series chosen by rules; RTSTRUCT/SEG masks) to a manifest."""
    from radiopipe.cohort.dicom.importer import import_dicom as run
    from radiopipe.cohort.dicom.importer import plan_import
    from radiopipe.config.dicom import load_rules

    settings = load_rules(rules)
    if dry_run:
        plan = plan_import(root, settings)
        table = Table(title=f"series in {root} ({plan.skipped_files} non-DICOM files ignored)")
        frame = plan.candidates_table()
        for column in frame.columns:
            table.add_column(column, overflow="fold")
        for values in frame.itertuples(index=False):
            table.add_row(*(str(v) for v in values))
        console.print(table)
        for problem in plan.problems:
            console.print(f"[red]problem[/]: {problem}")
        if plan.problems:
            console.print(f"[red]{len(plan.problems)} problem(s)[/]")
            raise typer.Exit(1)
        console.print(f"[green]OK[/]: {len(plan.patients)} patients, every rule matched once")
        return
    manifest = run(root, settings, clinical, out, show_progress=True)
    console.print(f"wrote {manifest}")


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _integers(text: str, flag: str, what: str = "an integer") -> list[int]:
    """Comma-separated integers; a bad one is a one-line error naming the flag (exit 2)."""
    values = []
    for item in _split(text):
        try:
            values.append(int(item))
        except ValueError:
            raise typer.BadParameter(f"{item!r} is not {what}", param_hint=flag) from None
    return values


def _pairs(items: list[str], flag: str | None = None) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise typer.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint=flag)
        pairs[key.strip()] = value.strip()
    return pairs


def _shorten(path: str, base: Path | None) -> str:
    if base is None:
        return path
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return path
