"""``radiopipe evaluate``: validation statistics from a predictions table."""

from __future__ import annotations

from pathlib import Path

import typer

from radiopipe.progress import console


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to the app."""
    app.command("evaluate")(evaluate)


def evaluate(
    predictions: Path = typer.Option(..., help="predictions.parquet (long table) of a run."),
    out: Path = typer.Option(..., help="Folder to write the tables into."),
    thresholds: Path | None = typer.Option(
        None, help="thresholds.json ({model: threshold}); default: max Youden on train OOF."
    ),
    manifest: Path | None = typer.Option(
        None, help="Cohort manifest: also write the cohort table (covariates by outcome)."
    ),
    config: Path | None = typer.Option(None, help="Evaluate settings (YAML)."),
    bootstrap: int | None = typer.Option(
        None, help="Bootstrap resamples (default 2000, or the config's)."
    ),
    seed: int | None = typer.Option(None, help="Bootstrap seed (default 0, or the config's)."),
    reference: str | None = typer.Option(
        None, help="Model the others are compared with (default 'stack')."
    ),
    fold_thresholds: Path | None = typer.Option(
        None, help="Nested CV: train's fold_thresholds.csv (default: beside the predictions)."
    ),
    sensitivity_predictions: Path | None = typer.Option(
        None,
        help="Train's sensitivity_predictions.parquet for harmonisation_sensitivity.csv "
        "(default: beside the predictions).",
    ),
    force: bool = typer.Option(False, help="Recompute even if the outputs are up to date."),
) -> None:
    """Validation tables: AUC CIs, DeLong + Holm, metrics, calibration, DCA, ROC, cohort."""
    from radiopipe.cli.stage import run_stage
    from radiopipe.config import load_config, parse_config
    from radiopipe.config.evaluate import EvaluateConfig
    from radiopipe.pipeline.model_stages import evaluate_stage
    from radiopipe.stats.evaluate import PERFORMANCE

    settings = load_config(config, EvaluateConfig) if config else EvaluateConfig()
    overrides = {"n_bootstrap": bootstrap, "seed": seed, "reference": reference}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        data = settings.model_dump() | overrides
        settings = parse_config(data, EvaluateConfig, source="command-line options")
    results: list = []
    beside = predictions.parent
    if fold_thresholds is None and (beside / "fold_thresholds.csv").is_file():
        fold_thresholds = beside / "fold_thresholds.csv"
    if sensitivity_predictions is None and (beside / "sensitivity_predictions.parquet").is_file():
        sensitivity_predictions = beside / "sensitivity_predictions.parquet"
    given = {
        "train": {
            "predictions": predictions,
            "thresholds": thresholds,
            "fold_thresholds": fold_thresholds,
            "sensitivity_predictions": sensitivity_predictions,
        },
        "cohort": {"manifest": manifest},
    }
    stage = evaluate_stage(settings, combine=False, on_result=results.append)
    run_stage(stage, out, force, given)
    if not results:
        return
    result = results[0]
    _print_summary(result.tables.get(PERFORMANCE))
    for path in result.files.values():
        console.print(f"wrote {path}")


def _print_summary(performance: object) -> None:
    """A compact Table 3 on the console: AUC (95% CI) per model and split."""
    import pandas as pd
    from rich.table import Table

    if not isinstance(performance, pd.DataFrame) or performance.empty:
        return
    table = Table(title="AUC (95% DeLong CI); DeLong p vs reference (Holm)")
    splits = list(dict.fromkeys(performance["split"]))
    table.add_column("model")
    for split in splits:
        table.add_column(split)
    for model, rows in performance.groupby("model", sort=False):
        cells = []
        for split in splits:
            row = rows.loc[rows["split"] == split]
            if row.empty:
                cells.append("")
                continue
            r = row.iloc[0]
            p = r.get("delong_p_holm")
            cells.append(r["auc_text"] + (f"; p={p:.3g}" if pd.notna(p) else ""))
        table.add_row(str(model), *cells)
    console.print(table)
