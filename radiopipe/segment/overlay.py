"""PNG overlays: automatic (red) and reference (green) contours on axial and coronal slices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radiopipe.atomic import atomic_path


@dataclass
class OverlayCase:
    """One patient's image, automatic mask, reference mask (optional) and caption."""

    title: str
    image: sitk.Image
    auto: sitk.Image
    reference: sitk.Image | None = None


def _centre_slices(mask: np.ndarray) -> tuple[int, int]:
    """Axial (z) and coronal (y) indices with the largest mask area (middle if empty)."""
    if not mask.any():
        return mask.shape[0] // 2, mask.shape[1] // 2
    return int(mask.sum(axis=(1, 2)).argmax()), int(mask.sum(axis=(0, 2)).argmax())


def save_overlays(cases: list[OverlayCase], path: str | Path, title: str = "") -> Path:
    """Write one PNG with a row per case: axial and coronal slices through the lesion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(cases), 2, figsize=(7, 3.3 * len(cases)), squeeze=False)
    for row, case in zip(axes, cases, strict=False):
        image = sitk.GetArrayFromImage(case.image).astype(np.float32)
        auto = sitk.GetArrayFromImage(case.auto) > 0
        ref = sitk.GetArrayFromImage(case.reference) > 0 if case.reference is not None else None
        z, y = _centre_slices(ref if ref is not None else auto)
        low, high = np.percentile(image, [1, 99])
        sx, sy, sz = case.image.GetSpacing()
        views = [
            ("axial", image[z], auto[z], None if ref is None else ref[z], sy / sx),
            ("coronal", image[:, y], auto[:, y], None if ref is None else ref[:, y], sz / sx),
        ]
        for ax, (name, pixels, a, r, aspect) in zip(row, views, strict=False):
            ax.imshow(
                pixels,
                cmap="gray",
                vmin=low,
                vmax=high,
                aspect=aspect,
                origin="upper" if name == "axial" else "lower",
            )
            if r is not None and r.any():
                ax.contour(r, levels=[0.5], colors="lime", linewidths=1.2)
            if a.any():
                ax.contour(a, levels=[0.5], colors="red", linewidths=1.0, linestyles="--")
            ax.set_title(f"{case.title} ({name})", fontsize=8)
            ax.axis("off")
    legend = "red dashed: automatic (V-Net); green: reference"
    figure.suptitle(f"{title}\n{legend}" if title else legend, fontsize=9)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110)
    plt.close(figure)
    return Path(path)
