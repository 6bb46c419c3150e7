"""Write a synthetic NIfTI cohort again as a PACS-style DICOM export (``synth --format dicom``).

Per patient one study: a three-plane localiser, the T2WI, a DWI, a pre-contrast T1WI and
post-contrast T1WI phases (the delayed one is the cohort's CE-T1WI), with site-specific
series descriptions. Lesions are RTSTRUCT contours (rt-utils), except on the SEG site where
the images are enhanced multi-frame MR and the lesions DICOM SEG (highdicom). Files have no
extension and sit in nested folders; identifying tags hold fake values.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from pydicom.dataset import Dataset

from radiopipe.atomic import write_csv, write_text
from radiopipe.cohort.manifest import read_manifest
from radiopipe.progress import progress_bar
from radiopipe.synth import dicom_series as dcm

log = logging.getLogger(__name__)

EXPORT_DIR = "dicom"
RULES_FILE = "import_rules.yaml"
CLINICAL_FILE = "clinical.csv"
LESION_NAMES = {"rtstruct": "Fibroid", "seg": "Fibroid"}
DISTRACTOR_ROI = "Marker"


@dataclass(frozen=True)
class Dialect:
    """How one site's scanner names its series."""

    manufacturer: str
    model: str
    localizer: str
    t2w: str
    dwi: str
    t1_pre: str
    t1_post: str


DIALECTS = {
    "GE_A": Dialect("GE MEDICAL SYSTEMS", "Signa HDxt", "3-Plane Loc", "Ax T2 FRFSE",
                    "Ax DWI b800", "Ax T1 LAVA", "Ax T1 LAVA +C"),
    "GE_B": Dialect("GE MEDICAL SYSTEMS", "SIGNA Voyager", "3-pl loc SSFSE", "AX T2 PROPELLER",
                    "AX DWI 1000b", "AX LAVA-Flex pre", "AX LAVA-Flex post"),
    "SIEMENS": Dialect("SIEMENS", "MAGNETOM Skyra", "localizer", "t2_tse_tra",
                       "ep2d_diff_b50_800_tra", "t1_vibe_fs_tra_pre", "t1_vibe_fs_tra_post"),
    "PHILIPS": Dialect("Philips", "Ingenia", "Survey", "T2W_TSE_TRA", "DWI_b0_1000",
                       "T1W_THRIVE", "T1W_THRIVE_GD"),
}  # fmt: skip

RULES_YAML = """\
# Import rules for the synthetic PACS export (radiopipe import dicom).
patient_id:
  tag: PatientID
sequences:
  t2w:
    description: ['(?i)t2']
    exclude: ['(?i)loc|survey|dwi|diff']
    acquisition_type: 2D
    min_slices: 5
    mask: {roi: '(?i)fibroid', segment: '(?i)fibroid'}
  cet1w:
    description: ['(?i)t1|lava|vibe|thrive']
    exclude: ['(?i)loc|survey|dwi|diff']
    contrast: true
    acquisition_type: 3D
    prefer: latest
    min_slices: 5
    mask: {roi: '(?i)fibroid', segment: '(?i)fibroid'}
"""


def site_dialect(site: str, sites: list[str]) -> Dialect:
    """The naming dialect of a site: A and B follow the study's GE scanners, others vary."""
    if site in ("A", "B"):
        return DIALECTS[f"GE_{site}"]
    names = ("SIEMENS", "PHILIPS", "GE_A")
    return DIALECTS[names[int(hashlib.sha256(site.encode()).hexdigest(), 16) % 3]]


def seg_site(sites: list[str]) -> str | None:
    """The site whose lesions are DICOM SEG on enhanced MR (the second site, if any)."""
    return sites[1] if len(sites) > 1 else None


def export_dicom(cohort_dir: str | Path, seed: int, show_progress: bool = False) -> Path:
    """Write DIR/dicom/, DIR/import_rules.yaml and DIR/clinical.csv for a NIfTI cohort."""
    cohort_dir = Path(cohort_dir)
    cohort = read_manifest(cohort_dir / "manifest.csv")
    table = cohort.table
    sites = list(dict.fromkeys(table["site"]))
    field = _field_strengths(cohort_dir, sites)
    root = cohort_dir / EXPORT_DIR
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    write_text(root / "README.TXT", "Synthetic PACS export written by radiopipe synth.\n")
    bar = progress_bar()
    bar.disable = not show_progress
    # highdicom's legacy converter warns about window tags it cannot fill per frame.
    logging.getLogger("highdicom.legacy.sop").setLevel(logging.ERROR)
    with bar:
        task = bar.add_task("DICOM export", total=len(table), rate="", status="")
        for number, (_, row) in enumerate(table.iterrows(), start=1):
            _export_patient(root / f"PAT{number:05d}", row, seed, sites, field)
            bar.update(task, advance=1)
    write_text(cohort_dir / RULES_FILE, RULES_YAML)
    keep = [c for c in table.columns if not c.startswith(("image_", "mask_", "mask2_"))]
    write_csv(cohort_dir / CLINICAL_FILE, table[keep], index=False)
    log.info("wrote the DICOM export of %d patients to %s", len(table), root)
    return root


def _field_strengths(cohort_dir: Path, sites: list[str]) -> dict[str, float]:
    import json

    params = json.loads((cohort_dir / "synth.json").read_text(encoding="utf-8"))
    return {s: float(params["scanners"][s]["field_t"]) for s in sites}


def _study(row: pd.Series, seed: int, dialect: Dialect, field_t: float, index: int) -> Dataset:
    pid = str(row["patient_id"])
    digest = hashlib.sha256(f"{seed}:{pid}".encode()).hexdigest()
    ds = Dataset()
    ds.PatientID = pid
    # Fake identifying values, so that the importer's privacy guarantee can be tested.
    ds.PatientName = f"SYNTHETIC^PERSON{digest[:6].upper()}"
    age = int(float(row.get("age", 50) or 50))
    ds.PatientBirthDate = f"{2024 - age}{1 + int(digest[6:8], 16) % 12:02d}15"
    ds.PatientSex = "F"
    ds.OtherPatientIDs = f"MRN{int(digest[8:16], 16) % 10**8:08d}"
    ds.AccessionNumber = f"ACC{int(digest[16:22], 16) % 10**6:06d}"
    ds.InstitutionName = f"Synthetic Hospital {row['site']}"
    ds.ReferringPhysicianName = "REFERRER^FAKE"
    ds.StudyInstanceUID = dcm.uid(seed, pid, "study")
    ds.FrameOfReferenceUID = dcm.uid(seed, pid, "frame of reference")
    ds.StudyID = "1"
    ds.StudyDate = f"2024{1 + index % 12:02d}{1 + index % 28:02d}"
    ds.StudyTime = "090000"
    ds.StudyDescription = "MRI PELVIS"
    ds.Modality = "MR"
    ds.Manufacturer = dialect.manufacturer
    ds.ManufacturerModelName = dialect.model
    ds.MagneticFieldStrength = f"{field_t:g}"
    ds.PatientPosition = "HFS"
    ds.BodyPartExamined = "PELVIS"
    return ds


def _read(path: str) -> tuple[np.ndarray, tuple, tuple]:
    image = sitk.ReadImage(path)
    return sitk.GetArrayFromImage(image), image.GetSpacing(), image.GetOrigin()


def _series_specs(row: pd.Series, dialect: Dialect) -> dict[str, dcm.SeriesSpec]:
    t2, t2_spacing, t2_origin = _read(row["image_t2w"])
    t1, t1_spacing, t1_origin = _read(row["image_cet1w"])
    loc = np.tile(np.linspace(0, 400, 32, dtype=np.int16), (3, 32, 1))
    axial, sagittal, coronal = (1, 0, 0, 0, 1, 0), (0, 1, 0, 0, 0, -1), (1, 0, 0, 0, 0, -1)
    dwi_spacing = (t2_spacing[0] * 2, t2_spacing[1] * 2, t2_spacing[2])
    pre = (t1.astype(np.float32) * 0.55).astype(np.int16)
    early = (t1.astype(np.float32) * 0.85).astype(np.int16)
    return {
        "loc": dcm.SeriesSpec(1, dialect.localizer, "090010", 5.0, 1.6, "2D", False, loc,
                              (8.0, 8.0, 8.0), (-128.0, -128.0, 0.0),
                              (axial, sagittal, coronal)),
        "t2w": dcm.SeriesSpec(3, dialect.t2w, "090230", 4000.0, 100.0, "2D", False, t2,
                              t2_spacing, t2_origin),
        "dwi": dcm.SeriesSpec(4, dialect.dwi, "090810", 5200.0, 72.0, "2D", False,
                              t2[:, ::2, ::2].copy(), dwi_spacing, t2_origin),
        "pre": dcm.SeriesSpec(5, dialect.t1_pre, "091200", 4.2, 2.1, "3D", False, pre,
                              t1_spacing, t1_origin),
        "early": dcm.SeriesSpec(6, dialect.t1_post, "091420", 4.2, 2.1, "3D", True, early,
                                t1_spacing, t1_origin),
        "cet1w": dcm.SeriesSpec(7, dialect.t1_post, "091730", 4.2, 2.1, "3D", True, t1,
                                t1_spacing, t1_origin),
    }  # fmt: skip


def _export_patient(
    folder: Path, row: pd.Series, seed: int, sites: list[str], field: dict[str, float]
) -> None:
    site = str(row["site"])
    dialect = site_dialect(site, sites)
    index = int(hashlib.sha256(str(row["patient_id"]).encode()).hexdigest(), 16) % 1000
    study = _study(row, seed, dialect, field[site], index)
    study_dir = folder / study.StudyDate
    enhanced = site == seg_site(sites)
    written: dict[str, tuple[Path, str, Dataset | None]] = {}
    for name, spec in _series_specs(row, dialect).items():
        series_uid = dcm.uid(seed, row["patient_id"], "series", name)
        slices = dcm.mr_slices(study, spec, series_uid)
        series_dir = study_dir / f"SE{spec.number:04d}"
        if enhanced and name != "loc":
            multi = dcm.enhanced_mr(slices, series_uid, spec.number)
            dcm.save(multi, series_dir / "IM00001")
            written[name] = (series_dir, series_uid, multi)
        else:
            for k, ds in enumerate(slices):
                dcm.save(ds, series_dir / f"IM{k + 1:05d}")
            written[name] = (series_dir, series_uid, None)
    for offset, seq in enumerate(("t2w", "cet1w")):
        mask = sitk.GetArrayFromImage(sitk.ReadImage(row[f"mask_{seq}"])) > 0
        marker = np.zeros_like(mask)
        marker[mask.shape[0] // 2, 1:4, 1:4] = True  # a distractor in a corner
        series_dir, _, multi = written[seq]
        out_dir = study_dir / f"SE{90 + offset:04d}"
        if multi is not None:
            seg_uid = dcm.uid(seed, row["patient_id"], "seg", seq)
            source = dcm.read_back(series_dir / "IM00001")
            order = _frame_order(source, row[f"image_{seq}"])  # the converter may reorder
            seg = dcm.segmentation(
                source,
                {LESION_NAMES["seg"]: mask[order], DISTRACTOR_ROI: marker[order]},
                seg_uid,
                90 + offset,
            )
            dcm.save(seg, out_dir / "IM00001")
        else:
            rois = {LESION_NAMES["rtstruct"]: mask, DISTRACTOR_ROI: marker}
            dcm.rtstruct(series_dir, rois, out_dir / "IM00001", f"RTSTRUCT {seq}")


def _frame_order(multi: Dataset, nifti: str) -> np.ndarray:
    """NIfTI slice index of each frame of an enhanced image (by the frame's z position)."""
    image = sitk.ReadImage(nifti)
    z0, dz = image.GetOrigin()[2], image.GetSpacing()[2]
    positions = [
        float(f.PlanePositionSequence[0].ImagePositionPatient[2])
        for f in multi.PerFrameFunctionalGroupsSequence
    ]
    return np.array([round((z - z0) / dz) for z in positions])
