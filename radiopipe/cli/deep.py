"""Deep-model commands: train a 3D CNN / ViT on the radiomics splits, explain, predict, merge."""

from __future__ import annotations

from pathlib import Path

import typer

from radiopipe.cli.group import Group
from radiopipe.progress import console

deep_app = typer.Typer(
    cls=Group,
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
    design_dir: Path | None = typer.Option(
        None, help="Folder of `radiopipe design` (design.json, folds.csv): its design and folds."
    ),
    folds: Path | None = typer.Option(
        None, help="A folds.csv (patient_id, repeat, fold) to reproduce, fold for fold."
    ),
    design: str = typer.Option(
        "auto", help="auto, fixed_split or nested_cv (with --folds; --design-dir sets it)."
    ),
    seed: int | None = typer.Option(None, help="Override the config's seed."),
    resume: bool = typer.Option(False, help="Continue an interrupted run in --out."),
    overwrite: bool = typer.Option(False, help="Discard a previous deep run in --out."),
    force: bool = typer.Option(False, help="Train again even if --out is up to date."),
    merge_into: Path | None = typer.Option(
        None, help="Radiomics run folder whose predictions.parquet gets these rows too."
    ),
) -> None:
    """Train a final network and one per out-of-fold fit of the design."""
    from sklearn.metrics import roc_auc_score

    from radiopipe.cli.stage import run_stage
    from radiopipe.config import load_config
    from radiopipe.config.deep import DeepConfig
    from radiopipe.deep.merge import merge_predictions

    if resume and overwrite:
        raise typer.BadParameter("choose --resume or --overwrite, not both")
    if design_dir is not None and folds is not None:
        raise typer.BadParameter("give --design-dir or --folds, not both")
    settings = load_config(config, DeepConfig)
    if seed is not None:
        settings = settings.model_copy(update={"seed": seed})
    results: list = []
    stage = _train_stage(
        settings, design_dir, folds, design, resume, overwrite or force, results.append
    )
    run_stage(stage, out, force or overwrite, {"cohort": {"manifest": manifest}})
    if not results:
        return
    result = results[0]
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


def _train_stage(settings, design_dir, folds, design, resume, overwrite, on_result):
    """The one-model deep stage of ``deep train`` (design from --design-dir or the flags)."""
    from radiopipe.deep.runner import PREDICTIONS, train_deep
    from radiopipe.pipeline.engine import MANIFEST, Stage

    def run(call):
        fold_file, chosen = call.get("folds"), design
        if design_dir is not None:
            from radiopipe.modeling.design import FOLDS_FILE, read_design

            chosen = read_design(design_dir)[0].design
            fold_file = design_dir / FOLDS_FILE
        result = train_deep(
            call["manifest"], settings, call.folder, fold_file, resume=resume,
            overwrite=overwrite, design=chosen,
        )  # fmt: skip
        on_result(result)
        return {settings.model_name: call.folder / PREDICTIONS}

    inputs = {"manifest": MANIFEST, "folds": folds}
    if design_dir is not None:
        inputs |= {"design": design_dir / "design.json", "folds": design_dir / "folds.csv"}
    identity = {"config": settings.model_dump(mode="json"), "design": design}
    return Stage(
        "deep", run, settings=settings, inputs=inputs, command="deep train", identity=identity
    )


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
    run: Path = typer.Option(
        ..., "--run", help="Radiomics run folder (or train folder) holding predictions.parquet."
    ),
    out: Path | None = typer.Option(
        None, help="Write the combined table here instead of replacing the one in --run."
    ),
) -> None:
    """Add deep predictions to a radiomics run's table, after checking the splits match."""
    from radiopipe.deep.merge import write_combined

    target = out or run
    merged = write_combined(run, sources, target)
    console.print(f"{target / 'predictions.parquet'}: models {', '.join(merged['model'].unique())}")
