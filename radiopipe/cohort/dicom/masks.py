"""Lesion masks from RTSTRUCT (rt-utils) and DICOM SEG (highdicom) on the chosen image's grid."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radiopipe.cohort.dicom.geometry import Geometry
from radiopipe.cohort.dicom.scan import SeriesInfo
from radiopipe.cohort.dicom.volume import volume_to_image
from radiopipe.config.dicom import MaskRule
from radiopipe.errors import InputError


@dataclass
class MaskSource:
    """The mask object and label chosen for one image series."""

    info: SeriesInfo  # the RTSTRUCT or SEG series
    label: str  # ROI name or segment label
    reference: SeriesInfo  # the image series it was drawn on


def find_mask(
    rule: MaskRule,
    image: SeriesInfo,
    series: list[SeriesInfo],
    patient: str,
    sequence: str,
) -> tuple[MaskSource | None, list[str]]:
    """The mask drawn on ``image`` (or on another series of its frame of reference)."""
    by_uid = {s.series_uid: s for s in series}
    found: list[MaskSource] = []
    for obj in series:
        if obj.kind not in ("rtstruct", "seg"):
            continue
        pattern = rule.roi if obj.kind == "rtstruct" else rule.segment
        labels = [name for name in obj.labels if re.search(pattern, name)]
        refs = [by_uid[u] for u in sorted(obj.referenced_series) if u in by_uid]
        if image.series_uid in obj.referenced_series:
            reference = image
        elif refs and refs[0].frame_of_reference == image.frame_of_reference:
            reference = refs[0]  # drawn on another series: mapped onto the chosen image
        else:
            continue
        found += [MaskSource(obj, label, reference) for label in labels]
    direct = [m for m in found if m.reference is image]
    found = direct or found
    if len(found) == 1:
        return found[0], []
    where = f"patient {patient}: {sequence} series {image.label()}"
    if not found:
        if not rule.required:
            return None, []
        return None, [f"{where}: no RTSTRUCT ROI matching '{rule.roi}' or SEG segment "
                      f"matching '{rule.segment}' refers to it"]  # fmt: skip
    listed = "; ".join(f"{m.info.kind.upper()} {m.info.label()} '{m.label}'" for m in found)
    return None, [f"{where}: {len(found)} masks match ({listed}); narrow roi/segment"]


def read_mask(source: MaskSource, reference_geometry: Geometry, image: sitk.Image) -> sitk.Image:
    """The mask as uint8 0/1 on ``image``'s grid (nearest neighbour when grids differ)."""
    if source.info.kind == "rtstruct":
        mask = _rtstruct_mask(source, reference_geometry)
    else:
        mask = _seg_mask(source)
    mask = sitk.Cast(mask > 0, sitk.sitkUInt8)
    return sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def _rtstruct_mask(source: MaskSource, geometry: Geometry) -> sitk.Image:
    """Rasterise the ROI's contours on the referenced series (rt-utils, OpenCV fill)."""
    from rt_utils import RTStructBuilder

    if geometry.rows != geometry.columns:
        raise InputError(
            f"RTSTRUCT {source.info.label()}: rt-utils rasterises only square images "
            f"({geometry.rows} x {geometry.columns}); export the lesion as DICOM SEG",
            patient=source.info.patient,
        )
    with tempfile.TemporaryDirectory() as tmp:
        # rt-utils reads a folder holding only the referenced series: link its files there.
        for i, file in enumerate(source.reference.files):
            os.symlink(Path(file).resolve(), Path(tmp, f"{i:06d}.dcm"))
        builder = RTStructBuilder.create_from(str(tmp), str(source.info.files[0]))
        mask = builder.get_roi_mask_by_name(source.label)  # (rows, cols, slices), sorted
    array = np.transpose(mask, (2, 0, 1)).astype(np.uint8)
    orientation = np.array(geometry.frames[0].orientation, dtype=float)
    row_dir, col_dir = orientation[:3], orientation[3:6]
    row_mm, col_mm = geometry.pixel_spacing
    affine = np.eye(4)
    affine[:3, 0] = np.cross(row_dir, col_dir) * (geometry.step_mm or 1.0)
    affine[:3, 1] = col_dir * row_mm
    affine[:3, 2] = row_dir * col_mm
    affine[:3, 3] = geometry.frames[0].position
    return volume_to_image(array, affine)


def _seg_mask(source: MaskSource) -> sitk.Image:
    """The segment's frames as a volume in the SEG's own frame of reference (highdicom)."""
    import highdicom as hd

    seg = hd.seg.segread(str(source.info.files[0]))
    numbers = [
        int(s.SegmentNumber) for s in seg.SegmentSequence if str(s.SegmentLabel) == source.label
    ]
    volume = seg.get_volume(segment_numbers=numbers[:1], combine_segments=True, dtype=np.uint8)
    return volume_to_image(np.ascontiguousarray(volume.array), volume.affine)
