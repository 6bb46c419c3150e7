"""The one place that knows the contracts between stages: split names, table columns and the
run layout (which stage writes which file where).

- ``Split``: the split names of the manifest and of the predictions table (a ``str`` Enum, so a
  member compares equal to, hashes like and serialises as its plain string).
- Table schemas (``FEATURES``, ``PREDICTIONS``, ``FOLDS``, ``THRESHOLDS``, ``ICC``) with a
  ``check_*`` function per table: an error names the file and the missing or ill-typed column.
- ``RunLayout(run)``: the file names of every stage inside a study run folder, e.g.
  ``RunLayout(run).train.predictions`` or ``RunLayout(run).evaluate.performance``. A stage
  function that writes into any folder uses the stage's layout on that folder, e.g.
  ``TrainLayout(out).predictions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from radiopipe.errors import InputError

# ---------------------------------------------------------------------------------- splits


class Split(StrEnum):
    """Split names: manifest splits, out-of-fold training rows and nested-CV held-out rows."""

    TRAIN = "train"  # training patients (the final model's apparent predictions)
    INTERNAL_TEST = "internal_test"
    EXTERNAL_TEST = "external_test"
    TRAIN_OOF = "train_oof"  # out-of-fold predictions of the training patients (fixed split)
    CV = "cv"  # held-out patients of the outer folds (nested cross-validation)


NO_SPLIT = ""  # a manifest row without a split (cross-validation-only designs)
TEST_SPLITS = (Split.INTERNAL_TEST, Split.EXTERNAL_TEST)
OOF_SPLITS = (Split.TRAIN_OOF, Split.CV)  # pooled over folds; thresholds come from these
MANIFEST_SPLITS = (Split.TRAIN, Split.INTERNAL_TEST, Split.EXTERNAL_TEST, NO_SPLIT)
TRAINING_SPLITS = (Split.TRAIN, NO_SPLIT)  # patients a model may learn from
SPLIT_ORDER = (Split.TRAIN, Split.TRAIN_OOF, Split.CV, Split.INTERNAL_TEST, Split.EXTERNAL_TEST)
PRIMARY_SPLITS = (Split.EXTERNAL_TEST, Split.INTERNAL_TEST, Split.CV, Split.TRAIN_OOF)


def split_values(splits: Iterable[str]) -> list[str]:
    """Plain strings of split names (for settings defaults, YAML and data columns)."""
    return [str(s) for s in splits]


# ------------------------------------------------------------------------------ tables


class ContractError(InputError):
    """A table does not follow its contract (names the file and the column)."""

    def __init__(self, source: str | Path, problem: str) -> None:
        super().__init__(problem, file=source)


@dataclass(frozen=True)
class Column:
    """A column of a table contract: name and kind (str, int, float, bool)."""

    name: str
    kind: str
    required: bool = True


@dataclass(frozen=True)
class Schema:
    """The columns of one table."""

    table: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Every column name, in contract order."""
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        """The columns that must be present."""
        return tuple(c.name for c in self.columns if c.required)


def _schema(table: str, *columns: tuple[str, str] | tuple[str, str, bool]) -> Schema:
    return Schema(table, tuple(Column(*c) for c in columns))


PREDICTIONS = _schema(
    "predictions",
    ("patient_id", "str"),
    ("split", "str"),
    ("fold", "int"),
    ("model", "str"),
    ("probability", "float"),
    ("label", "int"),
)
PREDICTIONS_COLUMNS = PREDICTIONS.names
FOLDS = _schema("folds", ("patient_id", "str"), ("repeat", "int"), ("fold", "int"))
FOLDS_COLUMNS = FOLDS.names
ICC = _schema(
    "ICC",
    ("feature", "str"),
    ("icc", "float"),
    ("ci95_low", "float", False),
    ("ci95_high", "float", False),
    ("n_patients", "int", False),
)
ICC_COLUMNS = ICC.names
FEATURE_ID = "patient_id"  # first column of the features table; every other column is float
THRESHOLD_MIN, THRESHOLD_MAX = 0.0, 1.0


def _kind_ok(values: pd.Series, kind: str) -> bool:
    present = values.dropna()
    if kind == "str":
        return bool(present.map(lambda v: isinstance(v, str)).all())
    numeric = pd.to_numeric(present, errors="coerce")
    if numeric.isna().any():
        return False
    if kind == "int":
        return bool((numeric == np.round(numeric)).all()) and not values.isna().any()
    if kind == "bool":
        return bool(numeric.isin([0, 1]).all())
    return True


def require_columns(frame: pd.DataFrame, schema: Schema, source: str | Path) -> pd.DataFrame:
    """``frame`` when it holds the schema's required columns (kinds are not checked)."""
    missing = [c for c in schema.required if c not in frame.columns]
    if missing:
        raise ContractError(
            source,
            f"the {schema.table} table lacks column(s) {', '.join(missing)} "
            f"(required: {', '.join(schema.required)}; found: "
            f"{', '.join(map(str, frame.columns))})",
        )
    return frame


def check_columns(frame: pd.DataFrame, schema: Schema, source: str | Path) -> pd.DataFrame:
    """``frame`` when it holds the schema's required columns with the right kinds."""
    require_columns(frame, schema, source)
    for column in schema.columns:
        if column.name in frame.columns and not _kind_ok(frame[column.name], column.kind):
            raise ContractError(
                source,
                f"column {column.name!r} of the {schema.table} table must hold "
                f"{column.kind} values (found dtype {frame[column.name].dtype})",
            )
    return frame


def check_predictions(frame: pd.DataFrame, source: str | Path = "predictions") -> pd.DataFrame:
    """The predictions table (``PREDICTIONS``); unknown split names are errors."""
    check_columns(frame, PREDICTIONS, source)
    unknown = sorted(set(frame["split"].dropna().astype(str)) - {s.value for s in Split})
    if unknown:
        raise ContractError(
            source,
            f"column 'split' holds unknown split name(s) {', '.join(unknown)} "
            f"(known: {', '.join(s.value for s in Split)})",
        )
    return frame


def check_folds(frame: pd.DataFrame, source: str | Path = "folds") -> pd.DataFrame:
    """The outer-CV folds table (``FOLDS``): one row per patient and repeat."""
    check_columns(frame, FOLDS, source)
    twice = frame.duplicated(["patient_id", "repeat"])
    if twice.any():
        shown = ", ".join(frame.loc[twice, "patient_id"].astype(str).head(5))
        raise ContractError(source, f"patient(s) {shown} appear twice in one repeat")
    return frame


def check_icc(frame: pd.DataFrame, source: str | Path = "icc") -> pd.DataFrame:
    """The ICC table (``ICC``) the modelling stage filters features with."""
    return check_columns(frame, ICC, source)


def check_features(frame: pd.DataFrame, source: str | Path = "features") -> pd.DataFrame:
    """The features table: ``patient_id`` first (strings), every other column numeric."""
    if frame.columns.size == 0 or frame.columns[0] != FEATURE_ID:
        first = frame.columns[0] if frame.columns.size else "nothing"
        raise ContractError(
            source, f"the features table's first column must be {FEATURE_ID!r}, found {first!r}"
        )
    check_columns(frame, _schema("features", (FEATURE_ID, "str")), source)
    bad = [c for c in frame.columns[1:] if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise ContractError(
            source,
            f"feature column(s) {', '.join(map(str, bad[:10]))} are not numeric "
            f"(dtype {frame[bad[0]].dtype})",
        )
    return frame


def check_thresholds(mapping: object, source: str | Path = "thresholds") -> dict[str, float]:
    """The thresholds mapping ``{model: threshold}``: finite numbers in [0, 1]."""
    if not isinstance(mapping, Mapping):
        raise ContractError(source, "expected an object {model: threshold}")
    out = {}
    for model, value in mapping.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ContractError(source, f"threshold of model {model} is not a number: {value!r}")
        if not np.isfinite(value) or not THRESHOLD_MIN <= value <= THRESHOLD_MAX:
            raise ContractError(source, f"threshold of model {model} must lie in [0, 1]")
        out[str(model)] = float(value)
    return out


# -------------------------------------------------------------------------------- layout

RESOLVED_CONFIG = "config.resolved.yaml"
PROVENANCE = "provenance.json"
RUN_LOG = "radiopipe.log"
STAGE_MARKERS = ".stages"


class StageName(StrEnum):
    """Stage folders of a study run, in pipeline order."""

    COHORT = "cohort"
    VALIDATE = "validate"
    DESIGN = "design"
    PREPROCESS = "preprocess"
    SEGMENT = "segment"
    EXTRACT = "extract"
    ROBUSTNESS = "robustness"
    TRAIN = "train"
    DEEP = "deep"
    EVALUATE = "evaluate"
    EXPLAIN = "explain"
    REPORT = "report"
    BUNDLE = "bundle"


class StageLayout:
    """The files of one stage inside its folder: ``layout.<name>`` is ``folder / FILES[name]``."""

    stage: ClassVar[StageName]
    FILES: ClassVar[dict[str, str]] = {}

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def __getattr__(self, name: str) -> Path:
        files = type(self).FILES
        if name in files:
            return self.folder / files[name]
        raise AttributeError(f"{type(self).__name__} has no file {name!r}")

    def path(self, *parts: str) -> Path:
        """A path inside the stage folder."""
        return self.folder.joinpath(*parts)

    def files(self, *names: str) -> dict[str, Path]:
        """Named files (all when no name is given)."""
        return {n: self.folder / self.FILES[n] for n in (names or tuple(self.FILES))}

    @property
    def resolved_config(self) -> Path:
        """The stage's resolved settings."""
        return self.folder / RESOLVED_CONFIG

    @property
    def provenance(self) -> Path:
        """The stage's provenance record."""
        return self.folder / PROVENANCE


class CohortLayout(StageLayout):
    stage = StageName.COHORT
    FILES: ClassVar[dict[str, str]] = {"manifest": "manifest.csv"}


class ValidateLayout(StageLayout):
    stage = StageName.VALIDATE
    FILES: ClassVar[dict[str, str]] = {"problems": "problems.csv"}


class DesignLayout(StageLayout):
    stage = StageName.DESIGN
    FILES: ClassVar[dict[str, str]] = {"folds": "folds.csv", "design": "design.json"}


class PreprocessLayout(StageLayout):
    stage = StageName.PREPROCESS
    FILES: ClassVar[dict[str, str]] = {"manifest": "manifest.csv", "failures": "failures.csv"}


class SegmentLayout(StageLayout):
    stage = StageName.SEGMENT
    FILES: ClassVar[dict[str, str]] = {
        "manifest": "manifest.csv",
        "qc": "qc.csv",
        "failures": "failures.csv",
        "evaluation": "evaluation",
        "metrics": "evaluation/segmentation_metrics.csv",
        "summary": "evaluation/segmentation_summary.csv",
        "model_config": "train/" + RESOLVED_CONFIG,
    }


class ExtractLayout(StageLayout):
    stage = StageName.EXTRACT
    FILES: ClassVar[dict[str, str]] = {
        "features": "features.parquet",
        "diagnostics": "diagnostics.parquet",
        "failures": "failures.csv",
        "summary": "extraction.json",
        "cache": "cache",
    }


class RobustnessLayout(StageLayout):
    stage = StageName.ROBUSTNESS
    FILES: ClassVar[dict[str, str]] = {
        "icc": "icc.parquet",
        "features": "robustness_features.parquet",
        "failures": "robustness_failures.csv",
    }


class TrainLayout(StageLayout):
    stage = StageName.TRAIN
    FILES: ClassVar[dict[str, str]] = {
        "predictions": "predictions.parquet",
        "folds": "folds.csv",
        "thresholds": "thresholds.json",
        "fold_thresholds": "fold_thresholds.csv",  # nested CV: each outer fold's threshold
        "sensitivity_predictions": "sensitivity_predictions.parquet",  # harmonisation
        "funnel": "funnel.csv",
        "selected_features": "selected_features.csv",
        "selection_stability": "selection_stability.csv",
        "tuning": "tuning.parquet",
        "cv_repeats": "cv_repeats.csv",  # out-of-fold AUC of each model per outer CV repeat
        "model": "model/model.json",
        "model_dir": "model",
        "harmonisation": "harmonisation.csv",
        "harmonisation_pca": "harmonisation_pca.csv",
        # rad-score (whenever LASSO selects) and the clinical/combined models (clinical.covariates)
        "radscore": "radscore.parquet",
        "radscore_formula": "radscore_formula.csv",
        "radscore_harmonisation": "radscore_harmonisation.csv",
        "radscore_tests": "radscore_tests.csv",
        "clinical_univariable": "clinical_univariable.csv",
        "clinical_multivariable": "clinical_multivariable.csv",
        "combined_coefficients": "combined_coefficients.csv",
        "nomogram_points": "nomogram_points.csv",
        "nomogram_total": "nomogram_total.csv",
    }
    # Named outputs of ``radiopipe.modeling.training.train`` (always written).
    OUTPUTS = (
        "predictions",
        "folds",
        "thresholds",
        "fold_thresholds",
        "sensitivity_predictions",
        "funnel",
        "selected_features",
        "selection_stability",
        "tuning",
        "cv_repeats",
        "model",
        "harmonisation",
        "harmonisation_pca",
    )
    LEGACY: ClassVar[dict[str, str]] = {
        "harmonisation": "harmonization.csv"
    }  # read when the new name is absent

    def existing(self, name: str) -> Path | None:
        """The file ``name`` under its name or its legacy spelling, whichever exists."""
        for path in (getattr(self, name), self.folder / self.LEGACY.get(name, "")):
            if path.is_file():
                return path
        return None


class DeepLayout(StageLayout):
    """``deep/`` (one sub-folder per model); ``model(name)`` is that model's layout."""

    stage = StageName.DEEP

    def model(self, name: str) -> DeepModelLayout:
        """The files of one deep model."""
        return DeepModelLayout(self.folder / name)


class DeepModelLayout(StageLayout):
    stage = StageName.DEEP
    FILES: ClassVar[dict[str, str]] = {
        "predictions": "predictions.parquet",
        "thresholds": "thresholds.json",
        "explanations": "explanations",
        "explanations_index": "explanations/index.csv",
    }


class EvaluateLayout(StageLayout):
    stage = StageName.EVALUATE
    FILES: ClassVar[dict[str, str]] = {
        "predictions": "predictions.parquet",
        "thresholds": "thresholds.json",
        "performance": "performance.csv",
        "delong": "delong.csv",
        "best_comparisons": "best_comparisons.csv",
        "fold_auc": "fold_auc.csv",
        "calibration": "calibration.csv",
        "reliability": "reliability.csv",
        "decision_curve": "decision_curve.csv",
        "roc_curves": "roc_curves.parquet",
        "cohort_table": "cohort_table.csv",
        "thresholds_used": "thresholds_used.json",
        "known_answer": "known_answer.csv",
        "known_answer_features": "known_answer_features.csv",
        "harmonisation_sensitivity": "harmonisation_sensitivity.csv",
        "clinical_comparisons": "clinical_comparisons.csv",  # with a clinical model only
    }
    TABLES = (
        "performance",
        "delong",
        "best_comparisons",
        "fold_auc",
        "calibration",
        "reliability",
        "decision_curve",
        "roc_curves",
        "cohort_table",
        "known_answer",
        "known_answer_features",
        "harmonisation_sensitivity",
        "clinical_comparisons",
    )  # the tables the report reads


class ExplainLayout(StageLayout):
    stage = StageName.EXPLAIN
    FILES: ClassVar[dict[str, str]] = {"summary": "explain.json", "plots": "plots"}


class ReportLayout(StageLayout):
    stage = StageName.REPORT
    FILES: ClassVar[dict[str, str]] = {
        "html": "report.html",
        "pdf": "report.pdf",
        "summary": "report.json",
        "pages": "pages",
    }


class BundleLayout(StageLayout):
    """``bundle/``: everything needed to score new patients (radiopipe.bundle), checksummed."""

    stage = StageName.BUNDLE
    FILES: ClassVar[dict[str, str]] = {
        "card": "bundle.json",
        "model_card": "model_card.json",
        "model_card_md": "model_card.md",
        "checksums": "checksums.sha256",
        "model_dir": "model",
        "thresholds": "thresholds.json",
        "params": "extraction/params.yaml",
        "features": "extraction/features.json",
        "preprocess": "preprocess/settings.yaml",
        "segmentation": "segmentation",
        "combat": "combat/parameters.csv",
        "shap_background": "explain/background.parquet",
        "performance": "performance.csv",
    }


class RunLayout:
    """Every stage folder of a study run: ``RunLayout(run).train.predictions`` etc."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.cohort = CohortLayout(self.root / StageName.COHORT)
        self.validate = ValidateLayout(self.root / StageName.VALIDATE)
        self.design = DesignLayout(self.root / StageName.DESIGN)
        self.preprocess = PreprocessLayout(self.root / StageName.PREPROCESS)
        self.segment = SegmentLayout(self.root / StageName.SEGMENT)
        self.extract = ExtractLayout(self.root / StageName.EXTRACT)
        self.robustness = RobustnessLayout(self.root / StageName.ROBUSTNESS)
        self.train = TrainLayout(self.root / StageName.TRAIN)
        self.deep = DeepLayout(self.root / StageName.DEEP)
        self.evaluate = EvaluateLayout(self.root / StageName.EVALUATE)
        self.explain = ExplainLayout(self.root / StageName.EXPLAIN)
        self.report = ReportLayout(self.root / StageName.REPORT)
        self.bundle = BundleLayout(self.root / StageName.BUNDLE)

    def stage(self, name: str) -> StageLayout:
        """The layout of a stage by name."""
        return getattr(self, StageName(name).value)

    @property
    def resolved_config(self) -> Path:
        """The run's resolved pipeline settings."""
        return self.root / RESOLVED_CONFIG

    @property
    def provenance(self) -> Path:
        """The run's provenance record."""
        return self.root / PROVENANCE

    @property
    def log(self) -> Path:
        """The run's log file."""
        return self.root / RUN_LOG

    @property
    def markers(self) -> Path:
        """The folder of the engine's stage markers."""
        return self.root / STAGE_MARKERS
