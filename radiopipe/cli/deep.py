"""Deep-model commands: train a 3D CNN / ViT on the radiomics splits, explain, predict, merge."""

from __future__ import annotations

from pathlib import Path

import typer

from radiopipe.progress import console

deep_app = typer.Typer(
    help="3D CNN and ViT outcome classifiers on lesion-centred crops (same splits as radiomics).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``deep`` command group to the app."""
    app.add_typer(deep_app, name="deep")


@deep_app.command("train")
def train(
    manifest: Path = typer.Option(..., help="Cohort manifest CSV (with mask_<seq> columns)."),
    config: Path = typer.Option(..., help="Deep config YAML, e.g. configs/deep/densenet.yaml."),
    out: Path = typer.Option(..., help="Run folder for checkpoints, predictions and overlays."),
    folds: Path | None = typer.Option(
        None, help="folds.csv of the radiomics run: its out-of-fold fits, fold for fold."
    ),
    design: str = typer.Option(
        "auto", help="auto, fixed_split or nested_cv: the design of the radiomics run."
    ),
    resume: bool = typer.Option(False, help="Continue an interrupted run in --out."),
    overwrite: bool = typer.Option(False, help="Discard a previous deep run in --out."),
    merge_into: Path | None = typer.Option(
        None, help="Radiomics run folder whose predictions.parquet gets these rows too."
    ),
) -> None:
    """Train a final network and one per out-of-fold fit of the radiomics design."""
    from sklearn.metrics import roc_auc_score

    from radiopipe.config import load_config
    from radiopipe.config.deep import DeepConfig
    from radiopipe.deep.merge import merge_predictions
    from radiopipe.deep.runner import train_deep

    if resume and overwrite:
        raise typer.BadParameter("choose --resume or --overwrite, not both")
    settings = load_config(config, DeepConfig)
    result = train_deep(
        manifest, settings, out, folds=folds, resume=resume, overwrite=overwrite, design=design
    )
    for split, rows in result.predictions.groupby("split", sort=False):
        auc = (
            f"AUC {roc_auc_score(rows['label'], rows['probability']):.3f}"
            if rows["label"].nunique() == 2
            else "one class only"
        )
        console.print(f"{settings.model_name} {split:>14}: {len(rows):4d} rows, {auc}")
    console.print(f"wrote {result.folder / 'predictions.parquet'}")
    if merge_into is not None:
        merge_predictions(result.folder, merge_into)
        console.print(f"merged into {merge_into / 'predictions.parquet'}")


@deep_app.command("explain")
def explain(
    run: Path = typer.Option(..., help="Folder of a finished `radiopipe deep train`."),
    patient: list[str] = typer.Option([], help="Patient to explain (repeatable)."),
) -> None:
    """Write saliency overlays (Grad-CAM / attention rollout) into RUN/explanations/."""
    from radiopipe.config import load_config
    from radiopipe.config.deep import DeepConfig
    from radiopipe.deep.explain_run import explain_run
    from radiopipe.runs import RESOLVED_CONFIG_FILE
    from radiopipe.torchrun.device import select_device

    settings = load_config(run / RESOLVED_CONFIG_FILE, DeepConfig)
    table = explain_run(
        run, settings, select_device(settings.training.device, "training.device"), patient or None
    )
    console.print(f"wrote {len(table)} overlay(s) to {run / 'explanations'}")


@deep_app.command("predict")
def predict(
    model: Path = typer.Option(..., help="Saved model folder (RUN/model)."),
    manifest: Path = typer.Option(..., help="Manifest of the patients to score."),
    out: Path = typer.Option(..., help="Folder for predictions.parquet and the crop cache."),
) -> None:
    """Score a cohort with a saved deep model."""
    from radiopipe.deep.predict import predict_manifest

    frame = predict_manifest(model, manifest, out)
    console.print(f"wrote {out / 'predictions.parquet'} ({len(frame)} patients)")


@deep_app.command("merge")
def merge(
    sources: list[Path] = typer.Argument(..., help="Deep run folders (or predictions files)."),
    into: Path = typer.Option(..., help="Radiomics run folder holding predictions.parquet."),
    out: Path | None = typer.Option(
        None, help="Write the combined table here instead of replacing the one in --into."
    ),
) -> None:
    """Add deep predictions to a radiomics run's table, after checking the splits match."""
    from radiopipe.deep.merge import write_combined

    target = out or into
    merged = write_combined(into, sources, target)
    console.print(f"{target / 'predictions.parquet'}: models {', '.join(merged['model'].unique())}")
