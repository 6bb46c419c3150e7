"""Settings of the validation report (``radiopipe report``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from radiopipe.config.core import StrictModel
from radiopipe.contracts import PRIMARY_SPLITS, split_values

FORMATS = ("html", "pdf")


class ReportConfig(StrictModel):
    """What the report shows and how it is written."""

    title: str = "Validation report"
    subtitle: str | None = None
    formats: list[Literal["html", "pdf"]] = Field(default_factory=lambda: ["html", "pdf"])
    reference: str | None = None  # model others are compared with; default: the evaluate config's
    primary_splits: list[str] = Field(
        default_factory=lambda: split_values(PRIMARY_SPLITS),
        min_length=1,
    )  # the first split present decides which model is best
    alpha: float = Field(0.05, gt=0, lt=1)
    label_names: dict[int, str] = Field(
        default_factory=lambda: {0: "unfavourable", 1: "favourable"}
    )
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

    @field_validator("label_names")
    @classmethod
    def _binary(cls, value: dict[int, str]) -> dict[int, str]:
        if sorted(value) != [0, 1]:
            raise ValueError("label_names must name exactly the labels 0 and 1")
        return value
