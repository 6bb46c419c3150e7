"""``radiopipe export-tables`` (features, predictions and performance as CSV / XLSX) and
``radiopipe export`` (the model bundle of a finished run)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from radiopipe.progress import console


def register(app: typer.Typer) -> None:
    """Add ``export-tables`` and ``export`` to the app."""
    app.command("export-tables")(export_tables)
    app.command("export")(export_bundle)


def export_bundle(
    run: Path = typer.Option(..., "--run", help="Study run folder (runs/<name>)."),
    out: Path = typer.Option(..., help="Bundle folder to write (replaced when it exists)."),
) -> None:
    """The model bundle of a finished run: what `radiopipe predict --bundle` needs."""
    from radiopipe.bundle.sources import sources_from_run
    from radiopipe.bundle.writer import write_bundle

    folder = write_bundle(sources_from_run(run), out)
    command = f"radiopipe predict --bundle {folder} --manifest new.csv --out DIR"
    console.print(f"bundle of {escape(str(run))} written; score with `{escape(command)}`",
                  soft_wrap=True)  # fmt: skip
    print(folder)


def export_tables(
    run: Path = typer.Option(..., "--run", help="Study run folder (runs/<name>)."),
    formats: str = typer.Option("csv,xlsx", "--format", help="Comma-separated: csv, xlsx."),
    out: Path | None = typer.Option(None, help="Output folder (default: RUN/export)."),
) -> None:
    """Features, predictions and performance as CSV and XLSX (SPSS, R, Excel)."""
    from radiopipe.report.export import export_tables as export

    chosen = [f.strip().lower() for f in formats.split(",") if f.strip()]
    result = export(run, chosen, out)
    for note in result.notes:
        console.print(f"[dim]{escape(note)}[/]", soft_wrap=True)
    for name, path in result.files.items():
        console.print(f"{name}: {escape(str(path))}", soft_wrap=True)
