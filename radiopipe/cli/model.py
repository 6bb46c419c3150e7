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
    out: Path = typer.Option(..., help="Output folder (OUT/predictions.parquet)."),
    bundle: Path | None = typer.Option(
        None, "--bundle", help="Bundle folder (runs/<name>/bundle or `radiopipe export`)."
    ),
    manifest: Path | None = typer.Option(
        None,
        help="Manifest of the patients. With --bundle alone: their images (and masks, where "
        "given) are scored end to end; with --features: their sites (needed for ComBat).",
    ),
    features: Path | None = typer.Option(
        None,
        help="Feature table to score (instead of images); with --bundle its recorded "
        "settings hash must match the bundle's.",
    ),
    model: Path | None = typer.Option(
        None, help="Model folder written by train (…/model), with --features (without a bundle)."
    ),
    fusion: Path | None = typer.Option(None, help="External predictions for a late-fusion model."),
    unseen_site: UnseenSite | None = typer.Option(
        None,
        "--unseen-site",
        help="Rule for sites not seen in training, overriding the trained one for this scoring: "
        "estimate (from the site's own patients, >= min_site_size scored together), "
        "passthrough (left unadjusted; one patient can be scored) or error.",
        case_sensitive=False,
    ),
    allow_settings_mismatch: bool = typer.Option(
        False,
        "--allow-settings-mismatch",
        help="Score a feature table whose settings hash differs from the bundle's.",
    ),
    device: str = typer.Option("auto", help="Device of the bundle's V-Net: auto, cpu or cuda."),
    report: bool = typer.Option(True, "--report/--no-report", help="Per-patient HTML and PDF."),
) -> None:
    """Score new patients: from their images with a bundle, or a feature table with a model."""
    from radiopipe.errors import InputError

    rule = unseen_site.value if unseen_site is not None else None
    if bundle is not None and model is not None:
        raise InputError("give --bundle or --model, not both")
    if bundle is None and model is None:
        raise InputError(
            "give --bundle (a model bundle) with --manifest (images) or --features, or --model "
            "with --features"
        )
    if model is not None:
        if features is None:
            raise InputError("--model scores a feature table: give --features")
        _predict_model(model, features, out, manifest, fusion, rule)
        return
    if fusion is not None:
        raise InputError("--fusion works with --model only; a bundle holds no deep model")
    _predict_bundle(bundle, out, manifest, features, rule, allow_settings_mismatch, device, report)


def _predict_bundle(
    bundle: Path,
    out: Path,
    manifest: Path | None,
    features: Path | None,
    rule: str | None,
    allow_mismatch: bool,
    device: str,
    report: bool,
) -> None:
    from rich.markup import escape

    from radiopipe.bundle.predict import predict_features, predict_images
    from radiopipe.errors import InputError

    if features is not None:
        result = predict_features(
            bundle, features, out, manifest, rule, allow_mismatch, reports=report
        )
    elif manifest is not None:
        result = predict_images(bundle, manifest, out, rule, device=device, reports=report)
    else:
        raise InputError("--bundle needs --manifest (images to score) or --features")
    scored = result.predictions["patient_id"].nunique()
    console.print(f"scored {scored} patient(s); wrote {escape(str(result.predictions_file))}")
    if len(result.not_scored):
        console.print(
            f"[yellow]{result.not_scored['patient_id'].nunique()} patient(s) not scored[/] "
            f"(reasons in {escape(str(out / 'not_scored.csv'))}):"
        )
        for row in result.not_scored.itertuples():
            console.print(f"  {escape(row.patient_id)} ({row.step}): {escape(row.reason)}",
                          soft_wrap=True)  # fmt: skip
    if result.reports:
        console.print(f"reports: {escape(str(out / 'reports'))}")
    print(result.predictions_file)


def _predict_model(
    model: Path,
    features: Path,
    out: Path,
    manifest: Path | None,
    fusion: Path | None,
    rule: str | None,
) -> None:
    from radiopipe.atomic import write_json, write_parquet
    from radiopipe.modeling.predicting import predict_cohort

    target = _predictions_path(out)
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
