"""Preprocess MRI volumes: small composable steps and the cohort stage.

Steps (each a plain function of SimpleITK images): :mod:`.n4` (bias-field correction),
:mod:`.resample` (grids, resampling, carrying masks through transforms), :mod:`.normalise`
(intensity normalisation), :mod:`.register` (rigid registration) and :mod:`.transforms`
(ITK transform files). :mod:`.patient` chains them for one patient; :mod:`.stage` runs a
whole cohort (worker processes, resume, failures table, new manifest).
"""

from radiopipe.preprocess.register import load_transform, register_rigid, save_transform
from radiopipe.preprocess.resample import (
    carry_mask,
    foreground_mask,
    n4_bias_correction,
    normalise_intensity,
    resample_image,
    resample_mask,
    target_grid,
    transform_image,
)

__all__ = [
    "carry_mask",
    "foreground_mask",
    "load_transform",
    "n4_bias_correction",
    "normalise_intensity",
    "register_rigid",
    "resample_image",
    "resample_mask",
    "save_transform",
    "target_grid",
    "transform_image",
]
