"""Typed settings of the preprocessing stage (resampling, N4, normalisation, registration)."""

from __future__ import annotations

import warnings
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from radiopipe.config.core import StrictModel

SpacingAxis = PositiveFloat | None


class ResampleSettings(StrictModel):
    """Target grid: spacing in mm (x, y, z); null keeps the volume's own spacing."""

    spacing: tuple[SpacingAxis, SpacingAxis, SpacingAxis] | None = (1.0, 1.0, 1.0)
    interpolator: Literal["bspline", "linear"] = "bspline"
    clamp: bool = True


class BiasCorrectionSettings(StrictModel):
    """N4 bias-field correction, fitted on a shrunken image inside the Otsu foreground."""

    enabled: bool = True
    shrink_factor: PositiveInt = 4
    iterations: list[PositiveInt] = Field(default=[50, 50, 30, 20], min_length=1)
    convergence_threshold: PositiveFloat = 1e-3
    spline_order: int = Field(default=3, ge=1, le=3)
    control_points: int = Field(default=4, ge=2)
    bias_field_fwhm: PositiveFloat = 0.15
    wiener_noise: PositiveFloat = 0.01
    histogram_bins: int = Field(default=200, ge=10)

    @model_validator(mode="after")
    def _mesh(self) -> BiasCorrectionSettings:
        if self.control_points <= self.spline_order:
            raise ValueError(
                f"control_points ({self.control_points}) must exceed spline_order "
                f"({self.spline_order})"
            )
        return self


class NormaliseSettings(StrictModel):
    """Intensity normalisation inside the Otsu foreground mask (none: leave intensities)."""

    method: Literal["zscore", "percentile", "none"] = "zscore"
    percentiles: tuple[float, float] = (1.0, 99.0)
    clip: bool = False

    @field_validator("percentiles")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low < high <= 100:
            raise ValueError(f"need 0 <= low < high <= 100, got {list(value)}")
        return value


class RegisterSettings(StrictModel):
    """Rigid registration of sequence ``moving`` onto sequence ``fixed`` (Mattes MI)."""

    moving: str
    fixed: str
    carry_masks: bool = True
    replace_masks: bool = False
    resample_moving: bool = False
    initialisation: Literal["geometry", "moments", "physical"] = "geometry"
    histogram_bins: int = Field(default=50, ge=8)
    sampling_percentage: float = Field(default=0.2, gt=0, le=1)
    max_samples: int = Field(default=50_000, ge=1000)
    shrink_factors: list[PositiveInt] = Field(default=[4, 2, 1], min_length=1)
    smoothing_sigmas_mm: list[float] = Field(default=[2.0, 1.0, 0.0], min_length=1)
    iterations: PositiveInt = 200
    initial_step: PositiveFloat = 1.0
    min_step: PositiveFloat = 1e-4
    deterministic: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> RegisterSettings:
        if self.moving == self.fixed:
            raise ValueError(f"moving and fixed are both {self.moving!r}; name two sequences")
        if len(self.shrink_factors) != len(self.smoothing_sigmas_mm):
            raise ValueError("shrink_factors and smoothing_sigmas_mm need one entry per level")
        return self

    def optimiser_kwargs(self) -> dict[str, object]:
        """The keyword arguments of :func:`radiopipe.preprocess.register_rigid`."""
        return self.model_dump(
            exclude={"moving", "fixed", "carry_masks", "replace_masks", "resample_moving"}
        )


# The YAML key is ``register``, which shadows pydantic's (ABCMeta's) class method of that name;
# harmless for a settings model, so the warning about it is silenced here only.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)

    class PreprocessSettings(StrictModel):
        """Everything ``radiopipe preprocess`` does to each patient's volumes, in order."""

        seed: int = 0
        bias_correction: BiasCorrectionSettings = BiasCorrectionSettings()
        resample: ResampleSettings = ResampleSettings()
        register: RegisterSettings | None = None
        normalise: NormaliseSettings = NormaliseSettings()
        output_suffix: Literal[".nii.gz", ".nii", ".nrrd", ".mha"] = ".nii.gz"
