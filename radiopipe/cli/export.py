"""``radiopipe export-tables``: features, predictions and performance as CSV / XLSX."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from radiopipe.progress import console


def register(app: typer.Typer) -> None:
    """Add ``export-tables`` to the app."""
    app.command("export-tables")(export_tables)


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
