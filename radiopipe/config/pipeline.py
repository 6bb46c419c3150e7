"""Settings of ``radiopipe run``: which stages run on which cohort (pipelines/<study>.yaml).

Each stage section either holds the stage's own settings inline (extract, robustness, report)
or points at a stage configuration file (``config:``, e.g. configs/model/paper.yaml). Relative
paths are read relative to the pipeline file, so a pipeline folder can be moved as a whole.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from radiopipe.config.core import StrictModel, load_config, parse_config, read_yaml
from radiopipe.config.extraction import ExecutionSettings, ExtractionSettings, RobustnessSettings
from radiopipe.config.report import ReportConfig
from radiopipe.config.segmentation import SegmentStageSettings
from radiopipe.config.synth import SynthConfig
from radiopipe.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class CohortStep(StrictModel):
    """Where the patients come from: a manifest CSV, or a synthetic cohort (demo)."""

    manifest: Path | None = None
    synth: SynthConfig | None = None
    label_names: dict[int, str] | None = None  # outcome names (0, 1) for the report and tables

    @model_validator(mode="after")
    def _exactly_one(self) -> CohortStep:
        if (self.manifest is None) == (self.synth is None):
            raise ValueError("give exactly one of 'manifest' (a CSV) or 'synth' (settings)")
        return self


class ValidateStep(StrictModel):
    """``radiopipe validate`` on the cohort before anything is computed."""

    stop_on_problems: bool = True
    workers: int | None = Field(None, ge=1)


class ConfigFileStep(StrictModel):
    """A stage configured by its own YAML file (absent: the stage's defaults)."""

    config: Path | None = None


class PreprocessStep(ConfigFileStep):
    """Resampling, N4, normalisation, registration (configs/preprocess/*.yaml)."""

    workers: int = Field(1, ge=1)
    allow_failures: bool = False


class SegmentStep(StrictModel):
    """V-Net auto-segmentation: a trained model folder (``radiopipe segment train``), or
    ``train:`` a segmentation config (configs/segmentation/*.yaml) to train the V-Net inside
    the run on the cohort's training patients (into ``segment/model/``) before segmenting."""

    model: Path | None = None
    train: Path | None = None
    if_missing: Literal["skip", "error"] = "skip"
    allow_failures: bool = False
    settings: SegmentStageSettings = SegmentStageSettings()

    @model_validator(mode="after")
    def _model_or_train(self) -> SegmentStep:
        if (self.model is None) == (self.train is None):
            raise ValueError(
                "give exactly one of 'model' (a trained model folder) or 'train' (a "
                "segmentation config, e.g. configs/segmentation/tiny.yaml, trained in the run)"
            )
        return self


class TrainStep(ConfigFileStep):
    """The leakage-safe radiomics models (configs/model/*.yaml).

    ``fusion`` names a deep model of this pipeline (its config's ``name``) whose predictions
    feed late fusion (``stack_fusion``); the deep stage then runs before train.
    """

    fusion: str | None = None


class DeepStep(StrictModel):
    """End-to-end 3D CNN / ViT comparison models (configs/deep/*.yaml), one folder each."""

    models: list[Path] = Field(min_length=1)


class ExplainStep(ConfigFileStep):
    """SHAP explanations of the trained stack (configs/explain/*.yaml)."""


class EvaluateStep(ConfigFileStep):
    """Validation statistics of every model (configs/evaluate/*.yaml)."""


class PipelineConfig(StrictModel):
    """One study: its cohort and the settings of each stage, in the order they run."""

    name: str
    seed: int | None = Field(None, ge=0, description="Overrides the seed of every seeded stage.")
    cohort: CohortStep
    validate_cohort: ValidateStep = Field(ValidateStep(), alias="validate")
    preprocess: PreprocessStep | None = None
    segment: SegmentStep | None = None
    extract: ExtractionSettings
    robustness: RobustnessSettings | None = None
    train: TrainStep = TrainStep()
    deep: DeepStep | None = None
    evaluate: EvaluateStep = EvaluateStep()
    explain: ExplainStep | None = ExplainStep()
    report: ReportConfig = ReportConfig()

    model_config = ConfigDict(**StrictModel.model_config, populate_by_name=True)

    @model_validator(mode="after")
    def _one_set_of_label_names(self) -> PipelineConfig:
        """cohort.label_names names the outcome once: the report takes it unless its own
        report.label_names says otherwise."""
        names = self.cohort.label_names
        if names is not None:
            if sorted(names) != [0, 1]:
                raise ValueError("cohort.label_names must name exactly the labels 0 and 1")
            if "label_names" not in self.report.model_fields_set:
                self.report = self.report.model_copy(update={"label_names": dict(names)})
        return self

    @model_validator(mode="after")
    def _plain_name(self) -> PipelineConfig:
        if self.train.fusion is not None and self.deep is None:
            raise ValueError(
                f"train.fusion names the deep model {self.train.fusion!r}, but the pipeline has "
                "no deep section"
            )
        if not _NAME.match(self.name):
            raise ValueError(
                f"name {self.name!r} must be a plain folder name (letters, digits, '.', '_', '-')"
            )
        return self


def load_pipeline(path: str | Path, manifest: str | Path | None = None) -> PipelineConfig:
    """Read a pipeline YAML; relative paths in it become relative to its folder.

    ``manifest`` replaces the pipeline's cohort (a real cohort for a study's pipeline).
    """
    path = Path(path)
    data = read_yaml(path)
    if manifest is not None:
        data["cohort"] = {"manifest": str(Path(manifest).resolve())}
    extract = data.get("extract")
    robustness = data.get("robustness")
    if isinstance(extract, dict) and isinstance(robustness, dict) and "params" not in robustness:
        robustness["params"] = extract.get("params")  # same parameter file unless told otherwise
    config = resolve_paths(parse_config(data, PipelineConfig, source=str(path)), path.parent)
    check_files(config, str(path))
    check_params(config, str(path))
    return config


def check_params(config: PipelineConfig, source: str = "<pipeline>") -> None:
    """The pyradiomics parameter files are valid (so ``run --dry-run`` catches a typo)."""
    from radiopipe.features.params import load_params

    named = [("extract.params", config.extract.params)]
    if config.robustness is not None and config.robustness.params != config.extract.params:
        named.append(("robustness.params", config.robustness.params))
    for key, params in named:
        try:
            load_params(params)
        except ConfigError as err:
            raise ConfigError(f"{source}: {key}: {err}") from None


def check_files(config: PipelineConfig, source: str = "<pipeline>") -> None:
    """Every file the pipeline names exists; else one error listing each missing one."""
    named: list[tuple[str, Path | None]] = [
        ("cohort.manifest", config.cohort.manifest),
        ("extract.params", config.extract.params),
        ("train.config", config.train.config),
        ("evaluate.config", config.evaluate.config),
    ]
    if config.robustness is not None:
        named.append(("robustness.params", config.robustness.params))
    if config.preprocess is not None:
        named.append(("preprocess.config", config.preprocess.config))
    if config.segment is not None:
        named.append(("segment.train", config.segment.train))
    if config.explain is not None:
        named.append(("explain.config", config.explain.config))
    if config.deep is not None:
        named += [(f"deep.models[{i}]", p) for i, p in enumerate(config.deep.models)]
    missing = [f"  - {key}: {path}" for key, path in named if path and not path.is_file()]
    if missing:
        raise ConfigError(f"{source}: names file(s) that do not exist:\n" + "\n".join(missing))


def resolve_paths(model: M, base: Path) -> M:
    """A copy of ``model`` with every relative ``Path`` value made absolute under ``base``."""
    updates = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        resolved = _resolve_value(value, base)
        if resolved is not value:
            updates[name] = resolved
    return model.model_copy(update=updates) if updates else model


def _resolve_value(value: Any, base: Path) -> Any:
    if isinstance(value, Path):
        return value if value.is_absolute() else (base / value).resolve()
    if isinstance(value, BaseModel):
        return resolve_paths(value, base)
    if isinstance(value, list):
        items = [_resolve_value(v, base) for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def stage_config(path: Path | None, model: type[M], seed: int | None) -> M:
    """A stage's settings from its YAML file (or defaults), with the pipeline seed applied."""
    config = load_config(path, model) if path is not None else _defaults(model)
    if seed is not None and "seed" in type(config).model_fields:
        config = config.model_copy(update={"seed": seed})
    return resolve_paths(config, path.resolve().parent) if path is not None else config


def _defaults(model: type[M]) -> M:
    """A stage's settings when no file is named (the model stage: the ``auto`` preset)."""
    from radiopipe.config.model import ModelConfig

    if model is ModelConfig:
        from radiopipe.config.model_presets import new_study_config

        return new_study_config()  # type: ignore[return-value]
    return model()


def execution(settings: ExecutionSettings, workers: int | None) -> ExecutionSettings:
    """The execution settings with the command line's worker count, when given."""
    if workers is None:
        return settings
    if workers < 0:
        raise ConfigError(f"workers must be 0 or more, not {workers}")
    return settings.model_copy(update={"workers": workers})
