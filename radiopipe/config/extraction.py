"""Settings of the extraction and robustness stages (the pyradiomics settings live in the
pyradiomics parameter file that ``params`` points at, e.g. configs/extraction/paper.yaml)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from radiopipe.config.core import StrictModel

_MEMORY = re.compile(r"^(auto|[0-9]+(\.[0-9]+)?\s*([KMGT]i?B|B)?)$", re.IGNORECASE)


class ExecutionSettings(StrictModel):
    """Where extraction tasks run."""

    workers: int | None = Field(
        None, ge=0, description="Local worker processes (None: one per core; 0: this process)."
    )
    scheduler: str | None = Field(
        None, description="Address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786."
    )
    memory_limit: str = Field(
        "auto", description="Memory limit per local worker, e.g. '4GiB' ('auto': RAM / workers)."
    )

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not _MEMORY.match(value.strip()):
            raise ValueError("expected 'auto' or a size such as '4GiB' or '3000MB'")
        return value.strip()

    @field_validator("scheduler")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not re.match(
            r"^(tcp|tls|ucx|inproc)://[^\s]+$|^[^\s:/]+:\d+$", value
        ):
            raise ValueError("expected a Dask scheduler address such as tcp://host:8786")
        return value


class ExtractionSettings(StrictModel):
    """The ``extract`` stage."""

    params: Path = Field(description="pyradiomics parameter file (YAML or JSON).")
    sequences: list[str] | None = Field(None, description="Sequences to extract (default: all).")
    allow_failures: bool = Field(False, description="Exit 0 even if some cases failed.")
    cache: Path | None = Field(None, description="Cache folder (default: <out>/cache).")
    execution: ExecutionSettings = ExecutionSettings()


class PerturbationSettings(StrictModel):
    """How masks are perturbed when the manifest has no second segmentation."""

    radius_mm: float = Field(
        1.0, gt=0, description="Erosion/dilation radius in mm (1 voxel at 1 mm resampling)."
    )
    contour_repeats: int = Field(1, ge=0, le=20, description="Random contour perturbations.")
    contour_amplitude_mm: float = Field(
        1.5, gt=0, description="Standard deviation of the random boundary shift (mm)."
    )
    contour_smoothness_mm: float = Field(
        5.0, gt=0, description="Correlation length of the random boundary shift (mm)."
    )
    seed: int = Field(0, description="Seed of the random contour perturbations.")


class RobustnessSettings(StrictModel):
    """The ``robustness`` stage (ICC(2,1) of each feature between two segmentations)."""

    params: Path = Field(description="pyradiomics parameter file (same as for extract).")
    source: Literal["auto", "second_mask", "perturbation"] = Field(
        "auto", description="auto: mask2_<seq> columns when present, else perturbed masks."
    )
    include_test: bool = Field(
        False, description="Also use internal/external test patients (default: training only)."
    )
    max_patients: int | None = Field(
        None,
        ge=2,
        description="ICC on a random sample of this many eligible patients (None: all of them).",
    )
    sample_seed: int = Field(0, description="Seed of the patient sample (with max_patients).")
    sequences: list[str] | None = None
    allow_failures: bool = False
    cache: Path | None = None
    threshold: float = Field(0.8, ge=0, le=1, description="ICC used in the printed summary.")
    perturbation: PerturbationSettings = PerturbationSettings()
    execution: ExecutionSettings = ExecutionSettings()
