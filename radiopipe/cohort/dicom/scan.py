"""Walk a PACS export and read the headers that matter (pydicom), grouped into series.

Only the tags listed in ``SeriesInfo`` / ``Frame`` are kept: names, birth dates and other
identifying tags are never read into these records, so they cannot reach any output.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from radiopipe.cohort.dicom.metadata import acquisition_metadata, tag_value

log = logging.getLogger(__name__)

RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
ENHANCED_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR",
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT",
}


@dataclass(frozen=True)
class Frame:
    """One image plane: its file, frame number (1-based; 0 = single-frame) and geometry."""

    path: Path
    frame: int
    position: tuple[float, ...] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    rows: int
    columns: int
    instance: int


@dataclass
class SeriesInfo:
    """One series of the export: identification, acquisition tags, frames or mask payload."""

    patient: str  # the value of the chosen id tag
    study_uid: str
    study_date: str
    series_uid: str
    series_number: str
    description: str
    protocol: str
    modality: str
    sop_class: str
    datetime: str  # YYYYMMDDHHMMSS of the acquisition (series/acquisition/content date+time)
    contrast: bool
    acquisition_type: str
    frame_of_reference: str
    metadata: dict[str, str] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    referenced_series: set[str] = field(default_factory=set)  # masks: series they annotate
    labels: list[str] = field(default_factory=list)  # masks: ROI names or segment labels

    @property
    def kind(self) -> str:
        """'rtstruct', 'seg', 'enhanced' or 'image'."""
        if self.sop_class == RTSTRUCT_CLASS:
            return "rtstruct"
        if self.sop_class == SEG_CLASS:
            return "seg"
        return "enhanced" if self.sop_class in ENHANCED_CLASSES else "image"

    @property
    def when(self) -> str:
        """Acquisition date and time for people: 2024-01-05 10:21:30."""
        d = self.datetime.ljust(14, "0")
        return f"{d[0:4]}-{d[4:6]}-{d[6:8]} {d[8:10]}:{d[10:12]}:{d[12:14]}"

    def label(self) -> str:
        """How errors name the series: description, number and time (never the UID alone)."""
        text = self.description or self.protocol or "(no description)"
        return f"'{text}' (series {self.series_number or '?'}, {self.when})"


@dataclass
class Export:
    """Everything found under a root: series by patient, plus unreadable files."""

    root: Path
    series: dict[str, list[SeriesInfo]]  # patient -> series (images and masks)
    skipped: int  # files that are not DICOM
    problems: list[tuple[str, str]]  # (patient or '', problem)


def walk_files(root: Path) -> Iterator[Path]:
    """Every file below root, any depth, in a stable order (hidden files skipped)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder, name)


def scan_export(root: str | Path, id_tag: str = "PatientID") -> Export:
    """Read the headers of every DICOM file below root and group them into series."""
    root = Path(root)
    by_uid: dict[str, SeriesInfo] = {}
    skipped = 0
    problems: list[tuple[str, str]] = []
    for path in walk_files(root):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, EOFError, ValueError, TypeError, KeyError):
            skipped += 1
            continue
        if "SeriesInstanceUID" not in ds or "SOPClassUID" not in ds:
            skipped += 1  # DICOMDIR, presentation states without series, ...
            continue
        patient = str(ds.get(id_tag, "") or "").strip()
        if not patient:
            problems.append(("", f"{path.relative_to(root)}: no {id_tag}; cannot tell whose"))
            continue
        uid = str(ds.SeriesInstanceUID)
        info = by_uid.get(uid)
        if info is None:
            info = by_uid[uid] = _series_info(ds, patient)
        info.files.append(path)
        _add_content(info, ds, path)
    series: dict[str, list[SeriesInfo]] = defaultdict(list)
    for info in by_uid.values():
        series[info.patient].append(info)
    for items in series.values():
        items.sort(key=lambda s: (s.study_date, s.datetime, _number(s.series_number)))
    log.info("scanned %s: %d series, %d non-DICOM files", root, len(by_uid), skipped)
    return Export(root, dict(sorted(series.items())), skipped, problems)


def _number(text: str) -> int:
    return int(text) if text.lstrip("-").isdigit() else 0


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


def _series_info(ds: Dataset, patient: str) -> SeriesInfo:

    date = _text(ds, "SeriesDate") or _text(ds, "AcquisitionDate") or _text(ds, "StudyDate")
    time = _text(ds, "SeriesTime") or _text(ds, "AcquisitionTime") or _text(ds, "StudyTime")
    return SeriesInfo(
        patient=patient,
        study_uid=_text(ds, "StudyInstanceUID"),
        study_date=_text(ds, "StudyDate"),
        series_uid=str(ds.SeriesInstanceUID),
        series_number=_text(ds, "SeriesNumber"),
        description=_text(ds, "SeriesDescription"),
        protocol=_text(ds, "ProtocolName"),
        modality=_text(ds, "Modality"),
        sop_class=str(UID(ds.SOPClassUID)),
        datetime=(date + time.split(".")[0]).ljust(14, "0")[:14],
        contrast=bool(_text(ds, "ContrastBolusAgent")) or _enhanced_contrast(ds),
        acquisition_type=str(
            tag_value(ds, "MRAcquisitionType", ("MRFOVGeometrySequence", "MRAcquisitionType")) or ""
        ).strip(),
        frame_of_reference=_text(ds, "FrameOfReferenceUID"),
        metadata=acquisition_metadata(ds),
    )


def _enhanced_contrast(ds: Dataset) -> bool:
    shared = ds.get("SharedFunctionalGroupsSequence")
    if not shared:
        return False
    agents = shared[0].get("ContrastBolusUsageSequence") or []
    return any(str(a.get("ContrastBolusAgentAdministered", "")).upper() == "YES" for a in agents)


def _floats(value: object) -> tuple[float, ...] | None:
    if value is None or value == "":
        return None
    try:
        return tuple(float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None


def _add_content(info: SeriesInfo, ds: Dataset, path: Path) -> None:
    kind = info.kind
    if kind == "rtstruct":
        info.labels += [str(r.get("ROIName", "")) for r in ds.get("StructureSetROISequence", [])]
        for ref in ds.get("ReferencedFrameOfReferenceSequence", []):
            for study in ref.get("RTReferencedStudySequence", []):
                for series in study.get("RTReferencedSeriesSequence", []):
                    info.referenced_series.add(str(series.SeriesInstanceUID))
    elif kind == "seg":
        info.labels += [str(s.get("SegmentLabel", "")) for s in ds.get("SegmentSequence", [])]
        for ref in ds.get("ReferencedSeriesSequence", []):
            info.referenced_series.add(str(ref.SeriesInstanceUID))
    elif kind == "enhanced":
        info.frames += _enhanced_frames(ds, path)
    elif "Rows" in ds:
        info.frames.append(
            Frame(
                path=path,
                frame=0,
                position=_floats(ds.get("ImagePositionPatient")),
                orientation=_floats(ds.get("ImageOrientationPatient")),
                pixel_spacing=_floats(ds.get("PixelSpacing")),
                rows=int(ds.Rows),
                columns=int(ds.Columns),
                instance=_number(_text(ds, "InstanceNumber")),
            )
        )


def _enhanced_frames(ds: Dataset, path: Path) -> list[Frame]:
    shared = (ds.get("SharedFunctionalGroupsSequence") or [Dataset()])[0]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    frames = []
    for index in range(int(ds.get("NumberOfFrames", 1) or 1)):
        groups = per_frame[index] if index < len(per_frame) else Dataset()

        def item(sequence: str, keyword: str, groups: Dataset = groups) -> object:
            for source in (groups, shared):
                seq = source.get(sequence)
                if seq and keyword in seq[0]:
                    return seq[0].get(keyword)
            return None

        frames.append(
            Frame(
                path=path,
                frame=index + 1,
                position=_floats(item("PlanePositionSequence", "ImagePositionPatient")),
                orientation=_floats(item("PlaneOrientationSequence", "ImageOrientationPatient")),
                pixel_spacing=_floats(item("PixelMeasuresSequence", "PixelSpacing")),
                rows=int(ds.Rows),
                columns=int(ds.Columns),
                instance=index + 1,
            )
        )
    return frames
