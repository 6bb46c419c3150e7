"""One patient's job: draw, render and write its volumes (run serially or in worker processes)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radiopipe.atomic import atomic_path
from radiopipe.synth.outcome import OutcomeModel
from radiopipe.synth.patient import Patient, draw_patient
from radiopipe.synth.render import Rendered, render_patient
from radiopipe.synth.scanner import (
    REFERENCE_SITE,
    SEQUENCES,
    SIZES,
    Scanner,
    scanner_for,
    scanner_with_effect,
)

IMAGES_DIR = "images"
MASKS_DIR = "masks"
COMPRESSION_LEVEL = 1  # zlib level: noisy int16 barely compresses better at higher levels


@dataclass(frozen=True)
class PatientJob:
    """Everything a worker needs to make one patient (plain, picklable data)."""

    out_dir: str
    seed: int
    site: str
    index: int
    id_width: int
    size: str
    effect_size: float
    positive_fraction: float
    render: bool  # False: files exist already (resume); only draw the patient
    scanner_effect: float = 1.0  # 0: every site scans like site A; 1: own scanners; 2: strong
    intercept_shift: float = 0.0  # --confound: this site's shift of the outcome log-odds


def patient_files(patient_id: str) -> dict[str, str]:
    """Relative paths of a patient's images and masks, keyed by manifest column."""
    files = {}
    for seq in SEQUENCES:
        files[f"image_{seq}"] = f"{IMAGES_DIR}/{patient_id}_{seq}.nii.gz"
        files[f"mask_{seq}"] = f"{MASKS_DIR}/{patient_id}_{seq}.nii.gz"
    return files


@functools.lru_cache(maxsize=64)
def outcome_model(effect_size: float, positive_fraction: float) -> OutcomeModel:
    """The calibrated outcome model (cached: calibration solves for the intercept)."""
    return OutcomeModel.calibrated(effect_size, positive_fraction)


@functools.lru_cache(maxsize=256)
def site_scanner(site: str, seed: int, scanner_effect: float = 1.0) -> Scanner:
    """The scanner of a site at a scanner effect (cached; 1.0: the site's own scanner)."""
    own = scanner_for(site, seed)
    if scanner_effect == 1.0:
        return own
    return scanner_with_effect(own, scanner_for(REFERENCE_SITE, seed), scanner_effect)


def job_patient(job: PatientJob) -> Patient:
    """Draw the patient of a job."""
    return draw_patient(
        job.seed,
        job.site,
        job.index,
        site_scanner(job.site, job.seed, job.scanner_effect),
        outcome_model(job.effect_size, job.positive_fraction),
        job.id_width,
        job.intercept_shift,
    )


def run_job(job: PatientJob) -> Patient:
    """Draw the patient and, unless resuming, render and write its four volumes."""
    patient = job_patient(job)
    if job.render:
        rendered = render_patient(
            patient, site_scanner(job.site, job.seed, job.scanner_effect), SIZES[job.size]
        )
        files = patient_files(patient.patient_id)
        for seq, volume in rendered.items():
            write_volume(volume.image, volume, Path(job.out_dir, files[f"image_{seq}"]))
            write_volume(volume.mask, volume, Path(job.out_dir, files[f"mask_{seq}"]))
    return patient


def write_volume(array: np.ndarray, rendered: Rendered, path: Path) -> Path:
    """Write a (z, y, x) array on the rendered grid as compressed NIfTI, atomically."""
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in rendered.grid.spacing))
    image.SetOrigin(tuple(float(o) for o in rendered.grid.origin))
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), True, COMPRESSION_LEVEL)
    return path


def files_complete(out_dir: Path, patient_id: str) -> bool:
    """True if all four files of a patient exist (writes are atomic, so they are whole)."""
    return all((out_dir / rel).is_file() for rel in patient_files(patient_id).values())
