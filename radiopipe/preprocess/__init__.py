"""Preprocess MRI volumes: small composable steps and the cohort stage.

Steps (each a plain function of SimpleITK images): :mod:`.n4` (bias-field correction),
:mod:`.resample` (grids, resampling, carrying masks through transforms), :mod:`.normalise`
(intensity normalisation), :mod:`.register` (rigid registration) and :mod:`.transforms`
(ITK transform files). :mod:`.patient` chains them for one patient; :mod:`.stage` runs a
whole cohort (worker processes, resume, failures table, new manifest).
"""

from radiopipe.preprocess.checks import as_label_image
from radiopipe.preprocess.n4 import foreground_mask, n4_bias_correction
from radiopipe.preprocess.normalise import normalise_intensity
from radiopipe.preprocess.register import register_rigid
from radiopipe.preprocess.resample import (
    carry_mask,
    resample_image,
    resample_mask,
    target_grid,
    transform_image,
)
from radiopipe.preprocess.transforms import load_transform, save_transform

__all__ = [
    "as_label_image",
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
