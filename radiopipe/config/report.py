"""Settings of the validation report (``radiopipe report``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from radiopipe.config.core import StrictModel

FORMATS = ("html", "pdf")
FIGURE_FILE_FORMATS = ("pdf", "png", "tiff")
# Display names of the models in tables, legends and text; report.model_labels overrides them.
DEFAULT_MODEL_LABELS = {
    "stack": "Stacking ensemble",
    "stack_fusion": "Stacking ensemble with deep models (late fusion)",
    "lasso_lr": "LASSO logistic regression",
    "svm": "Support vector machine",
    "rf": "Random forest",
    "lightgbm": "LightGBM",
    "mlp": "Multilayer perceptron",
    "clinical": "Clinical model",
    "radscore": "Rad-score (LASSO)",
    "combined": "Combined model (rad-score + clinical)",
    "densenet": "3D DenseNet (CNN)",
    "resnet": "3D ResNet (CNN)",
    "vit": "Vision transformer (ViT)",
}
# Outcome names when neither cohort.label_names nor report.label_names says otherwise.
DEFAULT_LABEL_NAMES = {0: "negative", 1: "positive"}


class ReportConfig(StrictModel):
    """What the report shows and how it is written."""

    title: str = "Validation report"
    subtitle: str | None = None
    formats: list[Literal["html", "pdf"]] = Field(default_factory=lambda: ["html", "pdf"])
    # The reference is the evaluation's pre-specified one (design.json, evaluate.reference);
    # a different value here is ignored with a warning: one reference everywhere.
    reference: str | None = None
    # Best-on-test rankings, only in an appendix labelled "exploratory: selected on the test set"
    exploratory_best: bool = False
    alpha: float = Field(0.05, gt=0, lt=1)
    label_names: dict[int, str] = Field(default_factory=lambda: dict(DEFAULT_LABEL_NAMES))
    model_labels: dict[str, str] = Field(
        default_factory=dict
    )  # code name -> display name; merged over DEFAULT_MODEL_LABELS
    figure_files: list[Literal["pdf", "png", "tiff"]] = Field(
        default_factory=lambda: list(FIGURE_FILE_FORMATS)
    )  # every figure also as report/figures/figure-S<n>.<ext>; [] for none
    figure_dpi: int = Field(300, ge=72, le=1200)  # PNG / TIFF resolution of those files
    supplement: bool = True  # "Supplementary Figure S3" / "Supplementary Table S2"; else "Figure 3"
    figure_format: Literal["svg", "png"] = "svg"
    max_overlays: int = Field(6, ge=0, le=50)
    max_features_shown: int = Field(20, ge=5, le=200)
    pages_png: bool = True
    page_dpi: int = Field(100, ge=30, le=300)
    seed: int = Field(0, ge=0)

    @field_validator("formats")
    @classmethod
    def _some_format(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f"give at least one format of {FORMATS}")
        return list(dict.fromkeys(value))

    def model_label(self, model: str) -> str:
        """The display name of a model (its code name when none is known)."""
        return self.model_labels.get(model) or DEFAULT_MODEL_LABELS.get(model, model)

    @field_validator("label_names")
    @classmethod
    def _binary(cls, value: dict[int, str]) -> dict[int, str]:
        if sorted(value) != [0, 1]:
            raise ValueError("label_names must name exactly the labels 0 and 1")
        return value
