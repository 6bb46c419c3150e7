"""Assemble the configured stages in order and run them in the study's run folder."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from radiopipe.config.pipeline import PipelineConfig, execution, stage_config
from radiopipe.errors import ConfigError
from radiopipe.pipeline.bundle_stage import bundle_stage
from radiopipe.pipeline.cohort_stages import (
    cohort_stage,
    design_stage,
    preprocess_stage,
    segment_stage,
    validate_stage,
)
from radiopipe.pipeline.engine import Stage, StageReport, run_stages
from radiopipe.pipeline.feature_stages import extract_stage, robustness_stage
from radiopipe.pipeline.model_stages import (
    deep_stage,
    evaluate_stage,
    explain_stage,
    report_stage,
    train_stage,
)
from radiopipe.runs import RunFolder

log = logging.getLogger(__name__)

STAGE_ORDER = (
    "cohort", "validate", "preprocess", "segment", "design", "extract", "robustness",
    "train", "deep", "evaluate", "explain", "report", "bundle",
)  # fmt: skip


@dataclass
class PipelineResult:
    """What ran, what was skipped, and where the report went."""

    run: Path
    stages: list[StageReport]
    reports: dict[str, Path] = field(default_factory=dict)


def build_stages(config: PipelineConfig, workers: int | None = None) -> list[Stage]:
    """The configured stages in order; ``workers`` overrides the extraction workers.

    Every stage configuration file is read and checked here, so ``radiopipe run --dry-run``
    catches an error in any of them before anything runs.
    """
    from radiopipe.config.deep import DeepConfig
    from radiopipe.config.explain import ExplainConfig
    from radiopipe.config.model import ModelConfig
    from radiopipe.modeling.design import DesignSettings

    seed = config.seed
    extract, robustness = config.extract, config.robustness
    if workers is not None:
        extract = extract.model_copy(update={"execution": execution(extract.execution, workers)})
        if robustness is not None:
            robustness = robustness.model_copy(
                update={"execution": execution(robustness.execution, workers)}
            )
    model = stage_config(config.train.config, ModelConfig, seed)
    deep_configs = (
        [stage_config(p, DeepConfig, seed) for p in config.deep.models] if config.deep else []
    )
    deep_names = [c.model_name for c in deep_configs]
    fusion = config.train.fusion
    if fusion is not None and fusion not in deep_names:
        raise ConfigError(
            f"train.fusion: {fusion!r} is not a deep model of this pipeline "
            f"(deep models: {', '.join(deep_names)})"
        )
    deep = deep_stage(deep_configs) if deep_configs else None
    train = train_stage(model, fusion=fusion)
    evaluate = _evaluate_config(config, seed)
    stages: list[Stage | None] = [
        cohort_stage(config.cohort, max(workers, 1) if workers is not None else None),
        validate_stage(config.validate_cohort),
        preprocess_stage(config.preprocess, seed) if config.preprocess else None,
        segment_stage(config.segment) if config.segment else None,
        # the pre-specified reference model is fixed in design.json before any model is fitted
        design_stage(DesignSettings.of(model, reference=evaluate.reference)),
        extract_stage(extract),
        robustness_stage(robustness) if robustness is not None else None,
        # Late fusion needs the deep predictions first; otherwise deep follows train.
        *([deep, train] if fusion is not None else [train, deep]),
        evaluate_stage(evaluate, deep_names),
        explain_stage(stage_config(config.explain.config, ExplainConfig, seed))
        if config.explain
        else None,
        report_stage(config.report),
        bundle_stage(),  # what scoring a new patient needs (radiopipe predict --bundle)
    ]
    return [s for s in stages if s is not None]


def run_pipeline(
    config: PipelineConfig,
    out: str | Path | None = None,
    force: frozenset[str] = frozenset(),
    workers: int | None = None,
    on_stage: Callable[[str, str], None] | None = None,
) -> PipelineResult:
    """Run the study into ``out`` (default ``runs/<name>``); resume where it stopped.

    ``force``: stages to redo from scratch (their resumable partial work removed first);
    the stages that read them run again too. ``"all"`` forces every stage.
    """
    unknown = sorted(set(force) - set(STAGE_ORDER) - {"all"})
    if unknown:
        raise ConfigError(
            f"unknown stage(s) to --force: {', '.join(unknown)}; stages: {', '.join(STAGE_ORDER)}"
        )
    stages = build_stages(config, workers)
    if "all" in force:
        force = frozenset(s.name for s in stages)
    run = RunFolder.at(out) if out is not None else RunFolder.named(config.name)
    run.record("radiopipe run", config=config, seed=config.seed, extra={"workers": workers})
    handler = run.attach_log()
    try:
        ctx, reports = run_stages(stages, run, force=force, on_stage=on_stage)
    finally:
        logging.getLogger("radiopipe").removeHandler(handler)
        handler.close()
    files = {k: v for k, v in ctx.outputs.get("report", {}).items() if k in ("html", "pdf")}
    return PipelineResult(run.root, reports, files)


def _evaluate_config(config: PipelineConfig, seed: int | None):
    """The evaluate settings, with the outcome names set once in ``cohort.label_names``."""
    from radiopipe.config.evaluate import EvaluateConfig

    evaluate = stage_config(config.evaluate.config, EvaluateConfig, seed)
    names = config.cohort.label_names
    if names is None:
        return evaluate
    table = evaluate.cohort_table.model_copy(update={"label_names": dict(names)})
    return evaluate.model_copy(update={"cohort_table": table})
