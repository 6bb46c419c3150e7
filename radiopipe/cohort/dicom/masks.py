"""Lesion masks from RTSTRUCT (pydicom + OpenCV fill) and DICOM SEG (highdicom) on image grids."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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
    fits: Callable[[SeriesInfo], bool] = lambda s: True,
) -> tuple[MaskSource | None, list[str]]:
    """The mask drawn on ``image``, else one drawn on another series of its frame of
    reference that also fits the sequence's rule (e.g. another contrast phase)."""
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
    found = direct or [m for m in found if fits(m.reference)]
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
    """Rasterise the ROI's planar contours on the referenced series' planes.

    pydicom reads the structure set; each contour is mapped to pixel indices of the plane it
    lies on and filled with OpenCV exactly as rt-utils does (all polygons of a plane in one
    fillPoly call). rt-utils itself is not used for reading because it fails on one-point
    contours and transposes non-square images.
    """
    import cv2
    import pydicom

    ds = pydicom.dcmread(source.info.files[0])
    number = next(
        (int(r.ROINumber) for r in ds.StructureSetROISequence if str(r.ROIName) == source.label),
        None,
    )
    contours = next(
        (c.get("ContourSequence") or [] for c in ds.ROIContourSequence
         if int(c.ReferencedROINumber) == number),
        [],
    )  # fmt: skip
    orientation = np.array(geometry.frames[0].orientation, dtype=float)
    row_dir, col_dir = orientation[:3], orientation[3:6]
    normal = np.cross(row_dir, col_dir)
    row_mm, col_mm = geometry.pixel_spacing
    origin = np.array(geometry.frames[0].position, dtype=float)
    step = geometry.step_mm or 1.0
    # Planes of the uniform grid spanning the series (more than its files if slices are missing).
    span = float(geometry.positions[-1] - geometry.positions[0]) if geometry.n_slices else 0.0
    n_planes = round(span / step) + 1 if geometry.n_slices else 0
    polygons: dict[int, list[np.ndarray]] = {}
    for contour in contours:
        points = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
        k = round(float(np.mean((points - origin) @ normal)) / step)
        if not 0 <= k < n_planes:
            raise InputError(
                f"RTSTRUCT {source.info.label()}: ROI '{source.label}' has a contour outside "
                f"the referenced series {source.reference.label()}",
                patient=source.info.patient,
            )
        columns = (points - origin) @ row_dir / col_mm
        rows = (points - origin) @ col_dir / row_mm
        polygon = np.around(np.stack([columns, rows], axis=1)).astype(np.int32)
        polygons.setdefault(k, []).append(polygon.reshape(-1, 1, 2))
    array = np.zeros((n_planes, geometry.rows, geometry.columns), dtype=np.uint8)
    for k, shapes in polygons.items():
        plane = np.zeros((geometry.rows, geometry.columns), dtype=np.uint8)
        cv2.fillPoly(plane, shapes, 1)
        array[k] = plane
    affine = np.eye(4)
    affine[:3, 0] = normal * step
    affine[:3, 1] = col_dir * row_mm
    affine[:3, 2] = row_dir * col_mm
    affine[:3, 3] = origin
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
