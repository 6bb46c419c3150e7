"""Settings of the modelling stage (``configs/model/*.yaml``); defaults follow the study.

Every data-dependent step is fitted inside the training fold; each can be switched off
(``enabled: false`` or ``method: none``) or swapped (scaler, balancing, correlation method).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from radiopipe.config.core import StrictModel

FORBIDDEN_COVARIATES = ("label", "patient_id", "split", "site")
LearnerName = Literal["svm", "rf", "lightgbm", "mlp", "logreg"]


class ParamSpec(StrictModel):
    """One dimension of a hyperparameter search space."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _complete(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs a non-empty 'choices' list")
        elif self.low is None or self.high is None or self.low > self.high:
            raise ValueError("a float/int parameter needs 'low' <= 'high'")
        return self

    def as_space(self) -> dict[str, Any]:
        """The plain-dict form that radiopipe.modeling.learners.suggest reads."""
        if self.type == "categorical":
            return {"type": "categorical", "choices": list(self.choices or [])}
        cast = int if self.type == "int" else float
        spec: dict[str, Any] = {"type": self.type, "low": cast(self.low), "high": cast(self.high)}
        spec["log"] = self.log
        if self.step is not None:
            spec["step"] = cast(self.step)
        return spec


class CVSettings(StrictModel):
    """Outer (evaluation) and inner (selection, tuning) cross-validation."""

    outer_folds: int = Field(5, ge=2)
    outer_repeats: int = Field(1, ge=1)
    inner_folds: int = Field(5, ge=2)
    stratify_by_site: bool = True


class Toggle(StrictModel):
    """A step that can only be switched on or off."""

    enabled: bool = True


class ConstantSettings(StrictModel):
    """Removal of (near-)constant features."""

    enabled: bool = True
    threshold: float = Field(0.0, ge=0)


class ICCSettings(StrictModel):
    """Robustness filter from the ICC table of the robustness stage (icc.parquet)."""

    enabled: bool = True
    table: Path | None = None
    threshold: float = Field(0.8, ge=0, le=1)
    missing: Literal["drop", "keep"] = "drop"


class HarmoniseSettings(StrictModel):
    """ComBat (neuroHarmonize) across sites; skipped with a note when the data have no sites."""

    method: Literal["combat", "none"] = "combat"
    covariates: list[str] = Field(default_factory=list)
    parametric: bool = True
    empirical_bayes: bool = True
    mean_only: bool = False
    reference_site: str | None = None
    unseen_site: Literal["estimate", "passthrough", "error"] = "estimate"
    min_site_size: int = Field(10, ge=2)
    # ComBat batch: the site, the scanner (manufacturer, model, field strength from the
    # acquisition metadata `radiopipe import dicom` writes) or any manifest column.
    batch: str = Field("site", min_length=1)
    # Train also scores the test sets with unseen sites left unadjusted and refits the whole
    # pipeline without ComBat on the same folds (train/sensitivity_predictions.parquet;
    # evaluate/harmonisation_sensitivity.csv).
    sensitivity: bool = True

    @field_validator("covariates")
    @classmethod
    def _not_outcome(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if c.strip().lower() in FORBIDDEN_COVARIATES]
        if bad:
            raise ValueError(
                f"{bad} cannot be ComBat covariates (never the outcome, an identifier or the site)"
            )
        return value


class ScaleSettings(StrictModel):
    """Feature standardisation."""

    method: Literal["standard", "robust", "none"] = "standard"


class BalanceSettings(StrictModel):
    """Class balancing in the training fold: SMOTE, class weights, or none.

    ``stage``: where SMOTE runs. ``before_learners`` (default): after the ICC, t-test,
    Pearson and LASSO filters, which therefore see real patients only; ``before_selection``:
    before the t-test, as the published study did (its filters then see synthetic patients
    and the t-test p-values are anti-conservative), kept to reproduce it.
    """

    method: Literal["smote", "class_weight", "none", "tune"] = "smote"
    k_neighbors: int = Field(5, ge=1)
    stage: Literal["before_learners", "before_selection"] = "before_learners"
    # method: tune: each base learner chooses among these in its inner CV (the first is tried
    # first); the filters and LASSO then use class weights, which invent no patient.
    choices: list[Literal["smote", "class_weight", "none"]] = Field(
        default_factory=lambda: ["class_weight", "smote"], min_length=1
    )

    @model_validator(mode="after")
    def _tune_early(self) -> BalanceSettings:
        if self.method == "tune" and self.stage == "before_selection":
            raise ValueError("balance.method 'tune' chooses per learner: use stage before_learners")
        return self


class TTestSettings(StrictModel):
    """Univariate t-test filter."""

    enabled: bool = True
    alpha: float = Field(0.05, gt=0, le=1)
    fdr: bool = False
    equal_var: bool = False
    min_features: int = Field(2, ge=1)


class PearsonSettings(StrictModel):
    """Redundancy filter: of each pair with |r| above the threshold keep the more relevant."""

    enabled: bool = True
    threshold: float = Field(0.8, gt=0, le=1)
    method: Literal["pearson", "spearman"] = "pearson"


class LassoSettings(StrictModel):
    """L1 logistic regression selection, strength by inner-CV AUC."""

    enabled: bool = True
    n_strengths: int = Field(20, ge=2)
    rule: Literal["best", "1se"] = "best"
    min_features: int = Field(1, ge=1)
    max_features: int | None = Field(None, ge=1)


class LearnerSettings(StrictModel):
    """Base learners and their Bayesian-optimisation budget (per learner, per fit).

    ``tune_features``: each learner also tunes how many features it uses (ranked by |Welch t|
    inside each inner training fold): the selection depth is chosen by inner CV, between 2
    and ``max_features`` (a cost bound: tree learners on thousands of features are slow).
    ``ensemble_top``: the best N trials of each learner are refitted and averaged (WORC).
    ``timeout_s``: a safety cap; the trial count decides unless it binds (then it is logged
    and marked in the tuning history).
    """

    names: list[LearnerName] = Field(
        default_factory=lambda: ["svm", "rf", "lightgbm", "mlp"], min_length=1
    )
    n_trials: int = Field(25, ge=0)
    timeout_s: float | None = Field(60.0, gt=0)
    search_spaces: dict[LearnerName, dict[str, ParamSpec]] = Field(default_factory=dict)
    tune_features: bool = False
    max_features: int | None = Field(None, ge=1)  # upper end of the tuned depth (None: all)
    ensemble_top: int = Field(1, ge=1)

    @field_validator("names")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"learner names must be unique, got {value}")
        return value


class StackSettings(StrictModel):
    """The meta-learner: logistic regression (the study), or a convex combination of the base
    learners' probabilities (``mean``; ``nonnegative``: non-negative least-squares weights;
    ``select``: the single learner with the best out-of-fold AUC)."""

    method: Literal["logistic", "mean", "nonnegative", "select"] = "logistic"
    meta_C: float = Field(1.0, gt=0)  # logistic only
    # the meta-learner's inputs: out-of-fold probabilities on the inner folds the base
    # learners were tuned on (``tuning``), or on a second inner split (``fresh``)
    oof_split: Literal["tuning", "fresh"] = "tuning"


class FusionSettings(StrictModel):
    """Late fusion with an external model's probabilities (off unless ``predictions`` is set)."""

    predictions: Path | None = None
    model: str | None = None

    @model_validator(mode="after")
    def _both(self) -> FusionSettings:
        if (self.predictions is None) != (self.model is None):
            raise ValueError(
                "late fusion needs both 'predictions' (a predictions.parquet) and 'model'"
            )
        return self


class ClinicalSettings(StrictModel):
    """The clinical model (covariates of the manifest), the rad-score model and the combined
    model (rad-score + selected covariates); off while ``covariates`` is empty.

    ``selection``: ``univariable`` keeps the covariates whose univariable likelihood-ratio
    p < ``alpha`` (at least the best one) for the multivariable model; ``penalised`` keeps
    those an L1 logistic regression (strength by inner-CV AUC) gives a non-zero coefficient;
    ``none`` keeps all. Each is done inside every training fold. ``categorical`` covariates
    are one-hot coded against ``reference_levels`` (default: the first level in sort order);
    any non-numeric covariate is categorical too.
    """

    covariates: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    reference_levels: dict[str, str] = Field(default_factory=dict)
    selection: Literal["univariable", "penalised", "none"] = "univariable"
    alpha: float = Field(0.05, gt=0, le=1)

    @field_validator("covariates")
    @classmethod
    def _not_outcome(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if c.strip().lower() in FORBIDDEN_COVARIATES]
        if bad:
            raise ValueError(f"{bad} cannot be clinical covariates (outcome, identifier, site)")
        if len(set(value)) != len(value):
            raise ValueError(f"clinical covariates must be unique, got {value}")
        return value

    @model_validator(mode="after")
    def _known(self) -> ClinicalSettings:
        unknown = [
            c for c in [*self.categorical, *self.reference_levels] if c not in self.covariates
        ]
        if unknown:
            raise ValueError(f"{unknown} are not among clinical.covariates {self.covariates}")
        return self

    @property
    def enabled(self) -> bool:
        """True when covariates are named."""
        return bool(self.covariates)


class ModelConfig(StrictModel):
    """All settings of ``radiopipe train``."""

    seed: int = 42
    design: Literal["auto", "fixed_split", "nested_cv"] = "auto"
    n_jobs: int = Field(1, ge=1)
    cv: CVSettings = Field(default_factory=CVSettings)
    impute: Toggle = Field(default_factory=Toggle)
    constant: ConstantSettings = Field(default_factory=ConstantSettings)
    icc: ICCSettings = Field(default_factory=ICCSettings)
    # Written as `harmonise:`; `harmonize:` (the earlier spelling) is still read.
    harmonise: HarmoniseSettings = Field(
        default_factory=HarmoniseSettings,
        validation_alias=AliasChoices("harmonise", "harmonize"),
    )
    scale: ScaleSettings = Field(default_factory=ScaleSettings)
    balance: BalanceSettings = Field(default_factory=BalanceSettings)
    ttest: TTestSettings = Field(default_factory=TTestSettings)
    pearson: PearsonSettings = Field(default_factory=PearsonSettings)
    lasso: LassoSettings = Field(default_factory=LassoSettings)
    learners: LearnerSettings = Field(default_factory=LearnerSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    baseline: Toggle = Field(default_factory=Toggle)
    fusion: FusionSettings = Field(default_factory=FusionSettings)
    clinical: ClinicalSettings = Field(default_factory=ClinicalSettings)

    @property
    def harmonize(self) -> HarmoniseSettings:
        """The earlier spelling of :attr:`harmonise` (read-only alias)."""
        return self.harmonise

    def search_space(self, learner: str) -> dict[str, dict[str, Any]] | None:
        """The configured search space of a learner (None: the built-in default)."""
        specs = self.learners.search_spaces.get(learner)  # type: ignore[call-overload]
        return {k: v.as_space() for k, v in specs.items()} if specs else None
