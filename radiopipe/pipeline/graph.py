"""Assemble the configured stages in order and run them in the study's run folder."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from radiopipe.config.pipeline import PipelineConfig, execution
from radiopipe.errors import ConfigError
from radiopipe.pipeline.cohort_stages import (
    cohort_stage,
    preprocess_stage,
    segment_stage,
    validate_stage,
)
from radiopipe.pipeline.feature_stages import extract_stage, robustness_stage
from radiopipe.pipeline.model_stages import (
    deep_stage,
    evaluate_stage,
    explain_stage,
    report_stage,
    train_stage,
)
from radiopipe.runs import RunFolder
from radiopipe.stages import Stage, StageReport, run_stages

log = logging.getLogger(__name__)

STAGE_ORDER = (
    "cohort", "validate", "preprocess", "segment", "extract", "robustness",
    "train", "deep", "evaluate", "explain", "report",
)  # fmt: skip


@dataclass
class PipelineResult:
    """What ran, what was skipped, and where the report went."""

    run: Path
    stages: list[StageReport]
    reports: dict[str, Path] = field(default_factory=dict)


def build_stages(config: PipelineConfig, workers: int | None = None) -> list[Stage]:
    """The configured stages in order; ``workers`` overrides the extraction workers."""
    extract, robustness = config.extract, config.robustness
    if workers is not None:
        extract = extract.model_copy(update={"execution": execution(extract.execution, workers)})
        if robustness is not None:
            robustness = robustness.model_copy(
                update={"execution": execution(robustness.execution, workers)}
            )
    stages: list[Stage | None] = [
        cohort_stage(config.cohort, workers),
        validate_stage(config.validate_cohort),
        preprocess_stage(config.preprocess, config.seed) if config.preprocess else None,
        segment_stage(config.segment) if config.segment else None,
        extract_stage(extract),
    ]
    if robustness is not None:
        stages.append(robustness_stage(robustness))
    stages += [
        train_stage(config.train, config.seed, use_icc=config.robustness is not None),
        deep_stage(config.deep, config.seed) if config.deep else None,
        evaluate_stage(config.evaluate, config.seed, config.cohort.label_names),
        explain_stage(config.explain, config.seed) if config.explain else None,
        report_stage(config.report),
    ]
    return [s for s in stages if s is not None]


def run_pipeline(
    config: PipelineConfig,
    out: str | Path | None = None,
    force: frozenset[str] = frozenset(),
    workers: int | None = None,
    on_stage: Callable[[str, str], None] | None = None,
) -> PipelineResult:
    """Run the study into ``out`` (default ``runs/<name>``); resume where it stopped."""
    unknown = sorted(set(force) - set(STAGE_ORDER) - {"all"})
    if unknown:
        raise ConfigError(
            f"unknown stage(s) to force: {', '.join(unknown)}; stages: {', '.join(STAGE_ORDER)}"
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
