"""Move volumes between SimpleITK (LPS, z-y-x arrays) and MONAI MetaTensors (RAS affine, x-y-z)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import torch
from monai.data import MetaTensor

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def affine_of(image: sitk.Image) -> np.ndarray:
    """The 4x4 RAS affine mapping (x, y, z) voxel indices of ``image`` to millimetres."""
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = direction @ np.diag(image.GetSpacing())
    affine[:3, 3] = image.GetOrigin()
    return _LPS_TO_RAS @ affine


def to_metatensor(image: sitk.Image, dtype: torch.dtype = torch.float32) -> MetaTensor:
    """A channel-first MetaTensor (1, x, y, z) carrying the image's RAS affine."""
    array = sitk.GetArrayFromImage(image).transpose(2, 1, 0)
    tensor = torch.as_tensor(np.ascontiguousarray(array)).to(dtype)[None]
    return MetaTensor(tensor, affine=torch.as_tensor(affine_of(image), dtype=torch.float64))


def to_sitk(array: np.ndarray | torch.Tensor, affine: np.ndarray | torch.Tensor) -> sitk.Image:
    """A SimpleITK image from an (x, y, z) array and its RAS affine."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    if isinstance(affine, torch.Tensor):
        affine = affine.detach().cpu().numpy()
    lps = _LPS_TO_RAS @ np.asarray(affine, dtype=float)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    direction = lps[:3, :3] / spacing
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(array).transpose(2, 1, 0)))
    image.SetSpacing(tuple(float(s) for s in spacing))
    image.SetDirection(tuple(float(d) for d in direction.ravel()))
    image.SetOrigin(tuple(float(o) for o in lps[:3, 3]))
    return image


def resample_onto(
    image: sitk.Image, reference: sitk.Image, linear: bool = True, default: float = 0.0
) -> sitk.Image:
    """Resample ``image`` onto ``reference``'s grid in physical space (linear or nearest)."""
    interpolator = sitk.sitkLinear if linear else sitk.sitkNearestNeighbor
    return sitk.Resample(
        image, reference, sitk.Transform(), interpolator, default, image.GetPixelID()
    )


def voxel_volume_ml(image: sitk.Image) -> float:
    """Volume of one voxel in millilitres."""
    return float(np.prod(image.GetSpacing())) / 1000.0
