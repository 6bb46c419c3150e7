"""Modelling commands: ``train`` (validate and save a model) and ``predict`` (score a cohort)."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path

import typer
from rich.table import Table

from radiopipe.contracts import OOF_SPLITS, TEST_SPLITS
from radiopipe.progress import console


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``predict`` to the app."""
    app.command("train")(train)
    app.command("predict")(predict)


def train(
    features: Path = typer.Option(..., help="Feature table: features.parquet or radMLBench CSV."),
    out: Path = typer.Option(..., help="Output folder for predictions, folds, model artefact."),
    manifest: Path | None = typer.Option(None, help="Cohort manifest (site, split, label)."),
    config: Path | None = typer.Option(None, help="Model settings YAML (default: built-in)."),
    design: str | None = typer.Option(None, help="Override: auto, fixed_split or nested_cv."),
    design_dir: Path | None = typer.Option(
        None, help="Folder of `radiopipe design` (design.json, folds.csv): use its folds."
    ),
    seed: int | None = typer.Option(None, help="Override the seed."),
    icc: Path | None = typer.Option(
        None, help="ICC table (icc.parquet) for the robustness filter."
    ),
    workers: int | None = typer.Option(
        None, min=0, help="Outer folds fitted in parallel (0 or 1: in this process)."
    ),
    force: bool = typer.Option(False, help="Retrain even if the outputs are up to date."),
) -> None:
    """Validate the leakage-safe radiomics pipeline and save the final model."""
    from radiopipe.cli.stage import run_stage
    from radiopipe.pipeline.model_stages import train_stage

    n_jobs = max(workers, 1) if workers is not None else None
    settings = _settings(config, design=design, seed=seed, n_jobs=n_jobs, icc=icc)
    start = time.perf_counter()
    results: list = []
    given = {
        "extract": {"features": features},
        "cohort": {"manifest": manifest},
        "design": {"design": design_dir / "design.json" if design_dir else None},
    }
    run_stage(train_stage(settings, on_result=results.append), out, force, given)
    if not results:
        return
    result = results[0]
    console.print(_summary(result.predictions, result.thresholds, result.design))
    console.print(
        f"wrote {out} (design {result.design}; model in {out / 'model'}) "
        f"in {time.perf_counter() - start:.0f} s"
    )


class UnseenSite(str, Enum):
    """``radiopipe predict --unseen-site``: the rule for sites not seen in training."""

    ESTIMATE = "estimate"
    PASSTHROUGH = "passthrough"
    ERROR = "error"


def predict(
    model: Path = typer.Option(..., help="Model folder written by train (…/model)."),
    features: Path = typer.Option(..., help="Feature table of the cohort to score."),
    out: Path = typer.Option(..., help="Output folder (OUT/predictions.parquet)."),
    manifest: Path | None = typer.Option(None, help="Manifest with sites (needed for ComBat)."),
    fusion: Path | None = typer.Option(None, help="External predictions for a late-fusion model."),
    unseen_site: UnseenSite | None = typer.Option(
        None,
        "--unseen-site",
        help="Rule for sites not seen in training, overriding the trained one for this scoring: "
        "estimate (from the site's own patients, >= min_site_size scored together), "
        "passthrough (left unadjusted; one patient can be scored) or error.",
        case_sensitive=False,
    ),
) -> None:
    """Score a cohort (a new site included) with a saved model."""
    from radiopipe.atomic import write_json, write_parquet
    from radiopipe.modeling.predicting import predict_cohort

    target = _predictions_path(out)
    rule = unseen_site.value if unseen_site is not None else None
    predictions = predict_cohort(model, features, manifest, fusion, unseen_site=rule)
    write_parquet(target, predictions)
    policy = predictions.attrs.get("unseen_site", {})
    write_json(target.parent / "unseen_site_policy.json", policy)
    if policy.get("overridden"):
        console.print(
            f"[yellow]warning:[/] unseen sites scored with {policy['used']} (trained with "
            f"{policy['trained']}); policy written to {target.parent / 'unseen_site_policy.json'}"
        )
    n = predictions["patient_id"].nunique()
    console.print(f"wrote {target}: {n} patients x {predictions['model'].nunique()} models")
    print(target)


def _predictions_path(out: Path) -> Path:
    """``OUT/predictions.parquet``; an ``OUT`` ending in .parquet (the old meaning) is kept."""
    if out.suffix == ".parquet":
        console.print(f"[yellow]note:[/] --out is a folder now; writing {out} as given (old usage)")
        return out
    return out / "predictions.parquet"


def _settings(config: Path | None, **overrides: object):
    from radiopipe.config import load_config, parse_config
    from radiopipe.config.model import ModelConfig
    from radiopipe.config.model_presets import new_study_config

    settings = load_config(config, ModelConfig) if config else new_study_config()
    data = settings.model_dump()
    for key in ("design", "seed", "n_jobs"):
        if overrides[key] is not None:
            data[key] = overrides[key]
    if overrides["icc"] is not None:
        data["icc"]["table"] = overrides["icc"]
    return parse_config(data, ModelConfig, source=str(config or "<defaults>"))


def _summary(predictions, thresholds: dict[str, float], design: str) -> Table:
    """AUC per model and split (out-of-fold rows pooled), and each model's threshold."""
    from sklearn.metrics import roc_auc_score

    table = Table(title=f"AUC by model and split ({design})")
    splits = [s for s in (*OOF_SPLITS, *TEST_SPLITS) if s in set(predictions["split"])]
    table.add_column("model")
    for split in splits:
        table.add_column(split, justify="right")
    table.add_column("threshold", justify="right")
    for name, rows in predictions.groupby("model", sort=True):
        cells = []
        for split in splits:
            part = rows[(rows["split"] == split) & rows["label"].notna()]
            ok = part["label"].nunique() == 2
            auc = roc_auc_score(part["label"].astype(int), part["probability"]) if ok else None
            cells.append(f"{auc:.3f}" if auc is not None else "-")
        table.add_row(str(name), *cells, f"{thresholds.get(name, float('nan')):.3f}")
    return table
