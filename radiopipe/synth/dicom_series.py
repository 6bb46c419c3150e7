"""DICOM objects of the synthetic PACS export: MR slices, enhanced MR, RTSTRUCT and SEG."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from radiopipe.atomic import atomic_path


def uid(*parts: object) -> str:
    """A deterministic UID from its parts (same cohort seed and names: same UIDs)."""
    return generate_uid(entropy_srcs=[str(p) for p in parts])


@dataclass(frozen=True)
class SeriesSpec:
    """One series to write: description, timing, acquisition tags and the volume."""

    number: int
    description: str
    time: str  # HHMMSS
    tr_ms: float
    te_ms: float
    acquisition_type: str  # 2D / 3D
    contrast: bool
    voxels: np.ndarray  # int16 (z, y, x), or (n, rows, cols) for a localiser
    spacing: tuple[float, float, float]  # x, y, z mm
    origin: tuple[float, float, float]
    orientations: tuple[tuple[float, ...], ...] | None = None  # per plane (localiser)


def mr_slices(study: Dataset, spec: SeriesSpec, series_uid: str) -> list[Dataset]:
    """Single-frame MR Image Storage datasets of one series, slice order = z order."""
    out = []
    sx, sy, sz = spec.spacing
    for k, plane in enumerate(spec.voxels):
        orientation = spec.orientations[k] if spec.orientations else (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
        position = (spec.origin[0], spec.origin[1], spec.origin[2] + k * sz)
        sop_uid = uid(series_uid, k)
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.update(study)
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = spec.number
        ds.InstanceNumber = k + 1
        ds.SeriesDescription = spec.description
        ds.ProtocolName = spec.description
        ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = study.StudyDate
        ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = spec.time
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.ScanningSequence = "SE" if spec.tr_ms > 100 else "GR"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = spec.acquisition_type
        ds.RepetitionTime = f"{spec.tr_ms:g}"
        ds.EchoTime = f"{spec.te_ms:g}"
        ds.EchoTrainLength = 1
        ds.SliceThickness = f"{sz:g}"
        ds.SpacingBetweenSlices = f"{sz:g}"
        if spec.contrast:
            ds.ContrastBolusAgent = "Gadoterate meglumine"
            ds.ContrastBolusRoute = "IV"
        ds.ImagePositionPatient = [f"{v:.6g}" for v in position]
        ds.ImageOrientationPatient = [f"{v:g}" for v in orientation]
        ds.SliceLocation = f"{position[2]:.6g}"
        ds.PositionReferenceIndicator = ""
        ds.PixelSpacing = [f"{sy:g}", f"{sx:g}"]
        ds.Rows, ds.Columns = int(plane.shape[0]), int(plane.shape[1])
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 1
        ds.WindowCenter, ds.WindowWidth = 1000, 2000
        ds.PixelData = np.ascontiguousarray(plane, dtype="<i2").tobytes()
        out.append(ds)
    return out


def save(ds: Dataset, path: Path) -> Path:
    """Write a dataset (file meta included) atomically to a path without extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path


def enhanced_mr(slices: list[Dataset], series_uid: str, number: int) -> Dataset:
    """The slices converted to one Legacy Converted Enhanced MR multi-frame object."""
    import highdicom as hd

    return hd.legacy.LegacyConvertedEnhancedMRImage(
        legacy_datasets=slices,
        series_instance_uid=series_uid,
        series_number=number,
        sop_instance_uid=uid(series_uid, "enhanced"),
        instance_number=1,
    )


def rtstruct(series_dir: Path, rois: dict[str, np.ndarray], path: Path, description: str) -> Path:
    """An RTSTRUCT (rt-utils) with one ROI per (z, y, x) mask, on the series in series_dir."""
    from rt_utils import RTStructBuilder

    builder = RTStructBuilder.create_new(dicom_series_path=str(series_dir))
    builder.set_series_description(description)
    for colour, (name, mask) in enumerate(rois.items()):
        builder.add_roi(
            mask=np.transpose(mask.astype(bool), (1, 2, 0)),  # rt-utils: (rows, cols, slices)
            name=name,
            color=[[255, 0, 0], [0, 255, 0]][colour % 2],
        )
    with tempfile.TemporaryDirectory() as tmp:
        written = Path(tmp, "rtstruct.dcm")
        with contextlib.redirect_stdout(io.StringIO()):  # rt-utils prints the file name
            builder.save(str(written))
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as out:
            shutil.copyfile(written, out)
    return path


def segmentation(
    source: Dataset, segments: dict[str, np.ndarray], series_uid: str, number: int
) -> Dataset:
    """A binary DICOM SEG (highdicom) with one segment per (frames, rows, cols) mask."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=i + 1,
            segment_label=name,
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Neoplasm,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for i, name in enumerate(segments)
    ]
    pixels = np.stack([m.astype(np.uint8) for m in segments.values()], axis=-1)
    return hd.seg.Segmentation(
        source_images=[source],
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_uid,
        series_number=number,
        sop_instance_uid=uid(series_uid, "seg"),
        instance_number=1,
        manufacturer="radiopipe synth",
        manufacturer_model_name="synthetic reader",
        software_versions="1",
        device_serial_number="0",
        series_description="Lesion SEG",
        omit_empty_frames=False,
    )


def read_back(path: Path) -> Dataset:
    """Read a written dataset (for building derived objects from it)."""
    return pydicom.dcmread(path)
