"""Stages from features to the report: train, deep, evaluate, explain, report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from radiopipe.config.core import StrictModel
from radiopipe.config.deep import DeepConfig
from radiopipe.config.evaluate import EvaluateConfig
from radiopipe.config.explain import ExplainConfig
from radiopipe.config.model import ModelConfig
from radiopipe.config.report import ReportConfig
from radiopipe.pipeline.engine import MANIFEST, From, Input, Outputs, Stage, StageCall

log = logging.getLogger(__name__)

PREDICTIONS, THRESHOLDS = "predictions.parquet", "thresholds.json"
OPTIONAL_MANIFEST = From(MANIFEST.stages, MANIFEST.name, optional=True)


class DeepModels(StrictModel):
    """The deep stage's settings: one config per CNN / ViT."""

    models: list[DeepConfig]


def train_stage(
    config: ModelConfig, fusion: str | None = None, on_result: Callable | None = None
) -> Stage:
    """The leakage-safe radiomics models on the design's folds.

    Reads the robustness stage's ICC table when it ran, and with ``fusion`` (a deep model's
    name) that model's predictions for late fusion (``stack_fusion``).
    """
    from radiopipe.modeling.training import OUTPUTS

    inputs: dict[str, Input] = {
        "features": From("extract", "features"),
        "manifest": OPTIONAL_MANIFEST,
        "design": From("design", "design", optional=True),
        "icc": From("robustness", "icc", optional=True),
    }
    if config.icc.enabled and config.icc.table is not None:
        inputs["icc"] = Path(config.icc.table)
    if fusion is not None:
        inputs["fusion"] = From("deep", fusion)
    elif config.fusion.predictions is not None:
        inputs["fusion"] = Path(config.fusion.predictions)

    def run(call: StageCall) -> Outputs:
        from radiopipe.config.model import FusionSettings
        from radiopipe.modeling.training import train

        settings = config
        icc = call.get("icc")
        if config.icc.enabled and icc is not None:
            settings = settings.model_copy(
                update={"icc": config.icc.model_copy(update={"table": icc})}
            )
        if fusion is not None:
            with_fusion = FusionSettings(predictions=call["fusion"], model=fusion)
            settings = settings.model_copy(update={"fusion": with_fusion})
        design = call.get("design")
        result = train(
            call["features"], call.get("manifest"), settings, call.folder,
            design=design.parent if design is not None else None,
        )  # fmt: skip
        if on_result is not None:
            on_result(result)
        return result.outputs

    return Stage("train", run, settings=config, inputs=inputs, outputs=tuple(OUTPUTS),
                 scratch=(".checkpoints",))  # fmt: skip


def deep_stage(configs: Sequence[DeepConfig]) -> Stage:
    """Each configured CNN / ViT trained on the design's folds, in deep/<model>/."""
    names = tuple(c.model_name for c in configs)

    def run(call: StageCall) -> Outputs:
        from radiopipe.deep.stage import run_deep_stage

        outputs = {}
        for config in configs:
            out = call.folder / config.model_name
            run_deep_stage(call["manifest"], call["design"].parent, config, out)
            outputs[config.model_name] = out / PREDICTIONS
        return outputs

    return Stage(
        "deep", run, settings=DeepModels(models=list(configs)),
        inputs={"manifest": MANIFEST, "design": From("design", "design")},
        outputs=names, scratch=names,
    )  # fmt: skip


def evaluate_stage(
    config: EvaluateConfig,
    deep_models: Sequence[str] = (),
    combine: bool = True,
    on_result: Callable | None = None,
) -> Stage:
    """Validation statistics of every model.

    With ``combine`` (the pipeline), the radiomics predictions and each deep model's are first
    merged into this stage's ``predictions.parquet`` and ``thresholds.json``.
    """
    inputs: dict[str, Input] = {
        "predictions": From("train", "predictions"),
        "thresholds": From("train", "thresholds", optional=True),
        # nested CV: each outer fold's threshold, chosen on its own training patients
        "fold_thresholds": From("train", "fold_thresholds", optional=True),
        # harmonisation sensitivity (passthrough, refit without ComBat)
        "sensitivity_predictions": From("train", "sensitivity_predictions", optional=True),
        "manifest": OPTIONAL_MANIFEST,
        # the pre-specified reference model (design.json, written before any fit)
        "design": From("design", "design", optional=True),
        # for the known-answer tables of a synthetic cohort (ignored for real cohorts)
        "features": From("extract", "features", optional=True),
        "selected_features": From("train", "selected_features", optional=True),
    }
    inputs |= {f"deep_{name}": From("deep", name) for name in deep_models}

    def run(call: StageCall) -> Outputs:
        from radiopipe.stats.evaluate import evaluate, provenance_extra

        predictions, thresholds = call["predictions"], call.get("thresholds")
        outputs = {}
        if combine:
            from radiopipe.deep.merge import write_combined

            deep_runs = [call[f"deep_{name}"].parent for name in deep_models]
            write_combined(predictions.parent, deep_runs, call.folder)
            predictions, thresholds = call.folder / PREDICTIONS, call.folder / THRESHOLDS
            outputs = {"predictions": predictions, "thresholds": thresholds}
        result = evaluate(
            predictions, call.folder, thresholds, call.get("manifest"), config,
            features=call.get("features"), selected_features=call.get("selected_features"),
            design=call.get("design"), fold_thresholds=call.get("fold_thresholds"),
            sensitivity_predictions=call.get("sensitivity_predictions"),
        )  # fmt: skip
        call.provenance |= provenance_extra()
        if on_result is not None:
            on_result(result)
        return outputs | dict(result.files)

    return Stage("evaluate", run, settings=config, inputs=inputs)


def explain_stage(config: ExplainConfig, on_result: Callable | None = None) -> Stage:
    """SHAP values of the trained stack and its tree learners, grouped importances."""
    from radiopipe.explain.outputs import GROUPED, IMPORTANCE, SHAP_VALUES, SUMMARY

    def run(call: StageCall) -> Outputs:
        from radiopipe.explain.stage import ExplainInputs, explain_run

        inputs = ExplainInputs(
            model=call["model"].parent,
            features=call["features"],
            manifest=call["manifest"],
            thresholds=call.get("thresholds"),
            out=call.folder,
        )
        result = explain_run(inputs, config)
        if on_result is not None:
            on_result(result)
        return {name: call.folder / name for name in (SHAP_VALUES, IMPORTANCE, GROUPED, SUMMARY)}

    inputs: dict[str, Input] = {
        "model": From("train", "model"),
        "features": From("extract", "features"),
        "manifest": MANIFEST,
        "thresholds": From("train", "thresholds", optional=True),
    }
    return Stage("explain", run, settings=config, inputs=inputs,
                 outputs=(SHAP_VALUES, IMPORTANCE, GROUPED, SUMMARY))  # fmt: skip


def report_stage(config: ReportConfig) -> Stage:
    """The HTML / PDF validation report of everything the run holds."""

    def run(call: StageCall) -> Outputs:
        from radiopipe.report.build import build_report

        result = build_report(call.ctx.run.root, call.folder, config)
        return {name: path for name, path in result.files.items()}

    return Stage("report", run, settings=config, reads_all=True)
