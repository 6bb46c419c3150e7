"""Settings of the explain stage: which models, background, estimator budget, plots."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from radiopipe.config.core import StrictModel
from radiopipe.contracts import MANIFEST_SPLITS, split_values

EXPLAINABLE_SPLITS = tuple(split_values(MANIFEST_SPLITS))


class ExplainConfig(StrictModel):
    """How SHAP values of the fitted models are estimated and shown.

    The stacking ensemble is explained model-agnostically in the selected feature space by
    antithetic permutation sampling (``permutations`` pairs per background patient); tree
    base learners (random forest, LightGBM) exactly by interventional TreeSHAP against the
    same background.
    """

    seed: int = Field(0, ge=0)
    models: list[str] = Field(
        default_factory=lambda: ["stack", "rf", "lightgbm"],
        min_length=1,
        description="Models to explain: 'stack' (or the final estimator's name) and base learners",
    )
    background_size: int = Field(50, ge=2, le=2000)
    permutations: int = Field(1, ge=1, le=100)
    scale: Literal["probability", "log_odds"] = "probability"
    splits: list[str] | None = None  # None: every patient with features
    waterfall_patients: list[str] = Field(default_factory=list)
    waterfall_examples: int = Field(3, ge=0, le=20)
    max_display: int = Field(15, ge=3, le=100)
    n_jobs: int = Field(2, ge=1, le=256)
    batch_rows: int = Field(50_000, ge=1000, le=5_000_000)

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"model names must be unique, got {value}")
        return value

    @field_validator("splits")
    @classmethod
    def _known_splits(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        unknown = [s for s in value if s not in EXPLAINABLE_SPLITS]
        if unknown:
            raise ValueError(f"unknown split(s) {unknown}; choose from {list(EXPLAINABLE_SPLITS)}")
        return value
