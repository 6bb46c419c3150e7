"""Stages from features to the report: train, deep, evaluate, explain, report."""

from __future__ import annotations

import logging
from pathlib import Path

from radiopipe.config.pipeline import DeepStep, EvaluateStep, ExplainStep, TrainStep, stage_config
from radiopipe.config.report import ReportConfig
from radiopipe.pipeline.cohort_stages import current_manifest
from radiopipe.stages import Context, Outputs, Stage

log = logging.getLogger(__name__)

PREDICTIONS, THRESHOLDS, FOLDS = "predictions.parquet", "thresholds.json", "folds.csv"


def train_stage(step: TrainStep, seed: int | None, use_icc: bool) -> Stage:
    """The leakage-safe radiomics models, with the robustness stage's ICC table when it ran."""
    from radiopipe.config.model import ModelConfig

    config = stage_config(step.config, ModelConfig, seed)

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.modeling.training import train

        icc = ctx.output("robustness", "icc") if ctx.has("robustness", "icc") else None
        settings = config
        if config.icc.enabled and icc is not None:
            with_table = config.icc.model_copy(update={"table": icc})
            settings = config.model_copy(update={"icc": with_table})
        result = train(ctx.output("extract", "features"), current_manifest(ctx), settings, folder)
        return result.outputs

    def reads(ctx: Context) -> list[Path]:
        files = [ctx.output("extract", "features"), current_manifest(ctx)]
        return files + ([ctx.output("robustness", "icc")] if use_icc else [])

    return Stage("train", run, settings=config.model_dump(mode="json"), reads=reads)


def deep_stage(step: DeepStep, seed: int | None) -> Stage:
    """Each configured CNN / ViT trained on the radiomics models' folds, in deep/<model>/."""
    from radiopipe.config.deep import DeepConfig

    configs = [stage_config(path, DeepConfig, seed) for path in step.models]

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.deep.runner import run_deep_stage

        outputs = {}
        for config in configs:
            out = folder / config.model_name
            run_deep_stage(current_manifest(ctx), ctx.output("train", "folds"), config, out)
            outputs[config.model_name] = out / PREDICTIONS
        return outputs

    def reads(ctx: Context) -> list[Path]:
        return [current_manifest(ctx), ctx.output("train", "folds")]

    settings = {"models": [c.model_dump(mode="json") for c in configs]}
    return Stage("deep", run, settings=settings, reads=reads)


def evaluate_stage(
    step: EvaluateStep, seed: int | None, label_names: dict[int, str] | None = None
) -> Stage:
    """Every model's predictions merged into one table, then the validation statistics;
    ``label_names`` (the pipeline's cohort.label_names) name the outcome in the cohort table."""
    from radiopipe.config.evaluate import EvaluateConfig

    config = stage_config(step.config, EvaluateConfig, seed)
    if label_names is not None:
        table = config.cohort_table.model_copy(update={"label_names": dict(label_names)})
        config = config.model_copy(update={"cohort_table": table})

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.deep.merge import write_combined
        from radiopipe.stats.evaluate import evaluate

        deep_runs = [p.parent for p in ctx.outputs.get("deep", {}).values()]
        write_combined(ctx.output("train", "predictions").parent, deep_runs, folder)
        predictions, thresholds = folder / PREDICTIONS, folder / THRESHOLDS
        result = evaluate(
            predictions, folder, thresholds=thresholds, manifest=current_manifest(ctx),
            config=config, force=True,
        )  # fmt: skip
        return {"predictions": predictions, "thresholds": thresholds} | dict(result.files)

    def reads(ctx: Context) -> list[Path]:
        deep = list(ctx.outputs.get("deep", {}).values())
        return [ctx.output("train", "predictions"), ctx.output("train", "thresholds"),
                current_manifest(ctx), *deep]  # fmt: skip

    return Stage("evaluate", run, settings=config.model_dump(mode="json"), reads=reads)


def explain_stage(step: ExplainStep, seed: int | None) -> Stage:
    """SHAP values of the trained stack and its tree learners, grouped importances."""
    from radiopipe.config.explain import ExplainConfig

    config = stage_config(step.config, ExplainConfig, seed)

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.explain.outputs import GROUPED, IMPORTANCE, SHAP_VALUES, SUMMARY
        from radiopipe.explain.stage import ExplainInputs, explain_run

        inputs = ExplainInputs(
            model=ctx.output("train", "model").parent,
            features=ctx.output("extract", "features"),
            manifest=current_manifest(ctx),
            thresholds=ctx.output("train", "thresholds"),
            out=folder,
        )
        explain_run(inputs, config, force=True)
        return {name: folder / name for name in (SHAP_VALUES, IMPORTANCE, GROUPED, SUMMARY)}

    def reads(ctx: Context) -> list[Path]:
        return [ctx.output("train", "model"), ctx.output("extract", "features"),
                current_manifest(ctx)]  # fmt: skip

    return Stage("explain", run, settings=config.model_dump(mode="json"), reads=reads)


def report_stage(config: ReportConfig) -> Stage:
    """The HTML / PDF validation report of everything the run holds."""

    def run(ctx: Context, folder: Path) -> Outputs:
        from radiopipe.report.build import build_report

        result = build_report(ctx.run.root, folder, config)
        return {name: path for name, path in result.files.items()}

    def reads(ctx: Context) -> list[Path]:
        files = [path for outputs in ctx.outputs.values() for path in outputs.values()]
        return [p for p in files if p.is_file()]

    return Stage("report", run, settings=config.model_dump(mode="json"), reads=reads)
