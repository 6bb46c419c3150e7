"""``radiopipe report`` (the validation report of a study run folder) and ``radiopipe explain``
(SHAP values of the trained model)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from radiopipe.progress import console

FORMATS = ("html", "pdf")


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``explain`` to the app."""
    app.command("report")(report)
    app.command("explain")(explain)


def report(
    run: Path = typer.Option(..., "--run", help="Study run folder (runs/<name>)."),
    formats: str = typer.Option("html,pdf", "--format", help="Comma-separated: html, pdf."),
    out: Path | None = typer.Option(None, help="Output folder (default: RUN/report)."),
    config: Path | None = typer.Option(None, help="Report settings (YAML)."),
    title: str | None = typer.Option(None, help="Report title."),
    pages: bool | None = typer.Option(
        None, "--pages/--no-pages", help="Render PDF pages to PNG (needs pdftoppm)."
    ),
) -> None:
    """Self-contained HTML and PDF validation report of every part the run folder holds."""
    from radiopipe.config import load_config, parse_config
    from radiopipe.config.report import ReportConfig
    from radiopipe.report import build_report

    settings = load_config(config, ReportConfig) if config else ReportConfig()
    chosen = [f.strip().lower() for f in formats.split(",") if f.strip()]
    overrides = {"formats": chosen, "title": title, "pages_png": pages}
    data = settings.model_dump() | {k: v for k, v in overrides.items() if v is not None}
    settings = parse_config(data, ReportConfig, source="command-line options")
    result = build_report(run, out, settings)
    skipped = [s for s in result.sections if not s.present]
    console.print(f"sections: {', '.join(result.shown) or 'none'}")
    for section in skipped:
        console.print(f"[dim]not in this run: {section.title} ({escape(section.note)})[/]")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    if result.pages:
        console.print(f"{len(result.pages)} page image(s) in {escape(str(result.pages[0].parent))}")
    for kind in ("html", "pdf"):
        if kind in result.files:
            console.print(
                f"{kind.upper()} report: {escape(str(result.files[kind]))}", soft_wrap=True
            )


def explain(
    run: Path = typer.Option(..., "--run", help="Study run folder (reads train/, extract/)."),
    config: Path | None = typer.Option(None, help="Explain settings (YAML)."),
    model: Path | None = typer.Option(None, help="Model folder (default: RUN/train/model)."),
    features: Path | None = typer.Option(None, help="Features (default: RUN/extract/...)."),
    manifest: Path | None = typer.Option(None, help="Manifest (default: RUN/cohort/...)."),
    out: Path | None = typer.Option(None, help="Output folder (default: RUN/explain)."),
    patient: list[str] = typer.Option([], help="Patient to draw a waterfall for (repeatable)."),
    seed: int | None = typer.Option(None, help="Seed of the background draw and orderings."),
    workers: int | None = typer.Option(
        None, min=0, help="Worker processes (default 2; 0: in this process)."
    ),
    force: bool = typer.Option(False, help="Recompute even if the outputs are up to date."),
) -> None:
    """SHAP values of the stacking ensemble and its tree base learners, grouped by sequence,
    image type and feature class."""
    from radiopipe.cli.stage import run_stage
    from radiopipe.config import load_config, parse_config
    from radiopipe.config.explain import ExplainConfig
    from radiopipe.explain.stage import ExplainInputs
    from radiopipe.pipeline.model_stages import explain_stage

    settings = load_config(config, ExplainConfig) if config else ExplainConfig()
    jobs = max(workers, 1) if workers is not None else None
    overrides = {"seed": seed, "n_jobs": jobs, "waterfall_patients": patient or None}
    data = settings.model_dump() | {k: v for k, v in overrides.items() if v is not None}
    settings = parse_config(data, ExplainConfig, source="command-line options")
    inputs = ExplainInputs.from_run(run, model=model, features=features, manifest=manifest, out=out)
    inputs.check()
    results: list = []
    given = {
        "train": {"model": inputs.model / "model.json", "thresholds": inputs.thresholds},
        "extract": {"features": inputs.features},
        "cohort": {"manifest": inputs.manifest},
    }
    run_stage(explain_stage(settings, on_result=results.append), inputs.out, force, given)
    if not results:
        return
    result = results[0]
    for name, ex in result.models.items():
        top = ex.importance().head(3)["label"].tolist()
        console.print(
            f"{name}: {len(ex.values)} patients x {len(ex.features)} features "
            f"({ex.method}, {ex.seconds:.1f} s); top: {escape('; '.join(top))}",
            soft_wrap=True,
        )
    console.print(f"wrote {escape(str(inputs.out))}")
