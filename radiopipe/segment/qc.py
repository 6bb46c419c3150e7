"""Quality flags of an automatic mask: empty, tiny, touching the border, low TTA agreement."""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk

from radiopipe.config.segmentation import QCSettings
from radiopipe.segment.geometry import voxel_volume_ml

FLAGS = ("empty", "tiny", "touches_border", "low_confidence")


def touches_border(mask: np.ndarray, margin: int = 0) -> bool:
    """True if any foreground voxel lies within ``margin`` voxels of a face of the volume."""
    if not mask.any():
        return False
    for axis, size in enumerate(mask.shape):
        width = min(margin + 1, size)
        head = np.take(mask, range(width), axis=axis)
        tail = np.take(mask, range(size - width, size), axis=axis)
        if head.any() or tail.any():
            return True
    return False


def qc_row(
    mask: sitk.Image,
    probability: sitk.Image | None,
    tta_agreement: float,
    components: int,
    settings: QCSettings,
) -> dict[str, object]:
    """Volume, confidence and flags of one mask; ``flags`` lists the raised ones, ';'-joined."""
    array = sitk.GetArrayViewFromImage(mask) > 0
    voxels = int(array.sum())
    volume_ml = voxels * voxel_volume_ml(mask)
    mean_probability = float("nan")
    if probability is not None and voxels:
        mean_probability = float(sitk.GetArrayViewFromImage(probability)[array].mean())
    flags = {
        "empty": voxels == 0,
        "tiny": 0 < volume_ml < settings.min_volume_ml,
        "touches_border": touches_border(array, settings.border_margin_voxels),
        "low_confidence": not math.isnan(tta_agreement)
        and tta_agreement < settings.min_tta_agreement,
    }
    raised = [name for name in FLAGS if flags[name]]
    return {
        "voxels": voxels,
        "volume_ml": volume_ml,
        "components": components,
        "tta_agreement": tta_agreement,
        "mean_probability": mean_probability,
        **flags,
        "flags": ";".join(raised),
        "passed": not raised,
    }
