"""Settings of the evaluate stage: bootstrap, comparisons, calibration, decision curves, cohort."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from radiopipe.config.core import StrictModel
from radiopipe.contracts import TEST_SPLITS, split_values


class DecisionCurveSettings(StrictModel):
    """Threshold-probability grid of the decision curves."""

    start: float = Field(0.01, gt=0, lt=1)
    stop: float = Field(0.99, gt=0, lt=1)
    step: float = Field(0.01, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> DecisionCurveSettings:
        if self.stop < self.start:
            raise ValueError(f"stop ({self.stop}) must be >= start ({self.start})")
        return self

    def grid(self) -> np.ndarray:
        """The thresholds from start to stop (inclusive) in steps."""
        count = int(np.floor((self.stop - self.start) / self.step + 1e-9)) + 1
        return np.round(self.start + self.step * np.arange(count), 10)


class CohortTableSettings(StrictModel):
    """The cohort table (Table 2): which covariates, grouped how, labelled how."""

    covariates: list[str] | None = None  # None: every clinical column of the manifest
    by: list[str] = Field(default_factory=lambda: ["split", "site"])
    categorical: list[str] = Field(default_factory=list)
    continuous: list[str] = Field(default_factory=list)
    label_names: dict[int, str] = Field(
        default_factory=lambda: {0: "negative", 1: "positive"}
    )  # a pipeline's cohort.label_names replaces this
    normality_alpha: float = Field(0.05, gt=0, lt=1)
    digits: int = Field(1, ge=0, le=6)

    @model_validator(mode="after")
    def _binary(self) -> CohortTableSettings:
        if sorted(self.label_names) != [0, 1]:
            raise ValueError("label_names must name exactly the labels 0 and 1")
        return self


class EvaluateConfig(StrictModel):
    """How predictions are turned into the validation statistics."""

    n_bootstrap: int = Field(2000, ge=100, le=100_000)
    seed: int = Field(0, ge=0)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    reference: str = "stack"  # pre-specified primary model, fixed in design/design.json
    # The declared Holm family of each test split: the reference against these models
    # (None: every other model that was run). Never the apparent (training) predictions.
    compare: list[str] | None = None
    unpaired: list[tuple[str, str]] = Field(
        default_factory=lambda: [tuple(split_values(TEST_SPLITS))]
    )
    reliability_bins: int = Field(10, ge=2, le=100)
    reliability_strategy: Literal["quantile", "uniform"] = "quantile"
    roc_grid_points: int = Field(101, ge=11, le=10_001)
    decision_curve: DecisionCurveSettings = Field(default_factory=DecisionCurveSettings)
    cohort_table: CohortTableSettings = Field(default_factory=CohortTableSettings)
