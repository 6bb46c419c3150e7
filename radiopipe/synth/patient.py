"""One synthetic patient: hidden properties, covariates, outcome, anatomy, and its random streams.

Every random draw of a patient comes from streams keyed by (seed, site, patient index,
purpose), so a patient is the same whatever the cohort size, the other sites, the volume size
or the number of worker processes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import numpy as np
from scipy.special import expit

from radiopipe.synth.anatomy import LESION_DIAMETER_MM, Anatomy, draw_anatomy
from radiopipe.synth.outcome import LATENTS, OutcomeModel, correlation_matrix
from radiopipe.synth.scanner import Scanner, site_key
from radiopipe.synth.tissues import (
    ENHANCEMENT_READER_SD,
    FUNAKI_READER_SD,
    LesionTissue,
    enhancement_grade,
    fat_thickness_mm,
    funaki_type,
    lesion_tissue,
)

PATIENT_STREAM = 3
PURPOSES = {
    "properties": 0, "outcome": 1, "anatomy": 2, "texture": 3, "t2w": 4, "cet1w": 5, "background": 6
}  # fmt: skip
FOV_JITTER_MM = 6.0
AGE_MEAN, AGE_SD, AGE_RANGE = 39.5, 7.0, (20, 58)


def patient_rng(seed: int, site: str, index: int, purpose: str) -> np.random.Generator:
    """The random stream of one patient for one purpose."""
    words = [seed, PATIENT_STREAM, site_key(site), index, PURPOSES[purpose]]
    return np.random.default_rng(np.random.SeedSequence(words))


def patient_id(site: str, index: int, width: int = 4) -> str:
    """Patient identifier such as ``A-0001`` (1-based index)."""
    return f"{site}-{index:0{width}d}"


@dataclass(frozen=True)
class Profile:
    """A patient's hidden properties, covariates and outcome (no geometry; cheap to draw)."""

    patient_id: str
    site: str
    index: int
    seed: int
    latents: tuple[float, ...]
    tissue: LesionTissue
    age: int
    fat_mm: float
    diameter_mm: float  # maximum Feret diameter of the lesion
    funaki_type: int
    enhancement_grade: int
    linear_predictor: float
    probability: float
    label: int

    def rng(self, purpose: str) -> np.random.Generator:
        """This patient's random stream for ``purpose`` (texture, t2w, cet1w, ...)."""
        return patient_rng(self.seed, self.site, self.index, purpose)

    def truth_row(self) -> dict[str, object]:
        """The hidden properties and outcome model values (one row of truth.csv)."""
        row: dict[str, object] = {"patient_id": self.patient_id, "site": self.site}
        row.update({f"latent_{k}": round(v, 6) for k, v in zip(LATENTS, self.latents, strict=True)})
        row.update({k: round(v, 6) for k, v in self.tissue.as_dict().items()})
        row.update(
            fat_thickness_mm=round(self.fat_mm, 3),
            lesion_diameter_mm=round(self.diameter_mm, 3),
            linear_predictor=round(self.linear_predictor, 6),
            probability=round(self.probability, 6),
            label=self.label,
        )
        return row

    def covariates(self) -> dict[str, object]:
        """Clinical covariates for the manifest (what a clinic would record)."""
        return {
            "age": self.age,
            "fat_thickness_mm": round(self.fat_mm, 1),
            "funaki_type": self.funaki_type,
            "enhancement_grade": self.enhancement_grade,
            "lesion_diameter_mm": round(self.diameter_mm, 1),
        }


@dataclass(frozen=True)
class Patient(Profile):
    """A profile plus the geometry every image of the patient is rendered from."""

    anatomy: Anatomy
    fov_center: tuple[float, float, float]
    motion_mm: tuple[float, float, float]  # CE-T1WI translation relative to T2WI

    def truth_row(self) -> dict[str, object]:
        """The truth row, with the inter-sequence motion."""
        row = super().truth_row()
        motion = {f"motion_{a}_mm": round(v, 3) for a, v in zip("xyz", self.motion_mm, strict=True)}
        label = row.pop("label")
        return {**row, **motion, "label": label}


@functools.lru_cache(maxsize=1)
def _cholesky() -> np.ndarray:
    return np.linalg.cholesky(correlation_matrix())


def draw_profile(
    seed: int,
    site: str,
    index: int,
    outcome: OutcomeModel,
    id_width: int = 4,
    intercept_shift: float = 0.0,
) -> Profile:
    """Draw one patient's hidden properties, covariates and label.

    ``intercept_shift`` is added to the log-odds (``--confound``: the site's prevalence shift).
    """
    rng = patient_rng(seed, site, index, "properties")
    latents = _cholesky() @ rng.standard_normal(len(LATENTS))
    named = dict(zip(LATENTS, latents.tolist(), strict=True))
    tissue = lesion_tissue(named)
    low, high = LESION_DIAMETER_MM
    eta = outcome.linear_predictor(latents) + intercept_shift
    probability = expit(eta)
    return Profile(
        patient_id=patient_id(site, index, id_width),
        site=site,
        index=index,
        seed=seed,
        latents=tuple(round(float(v), 12) for v in latents),
        tissue=tissue,
        fat_mm=fat_thickness_mm(named["fat"]),
        age=int(np.clip(round(AGE_MEAN + AGE_SD * rng.standard_normal()), *AGE_RANGE)),
        diameter_mm=round(float(low + (high - low) * rng.beta(2.0, 2.2)), 6),
        funaki_type=funaki_type(tissue.t2_solid + FUNAKI_READER_SD * rng.standard_normal()),
        enhancement_grade=enhancement_grade(
            tissue.ce_solid + ENHANCEMENT_READER_SD * rng.standard_normal()
        ),
        linear_predictor=float(eta),
        probability=float(probability),
        label=int(patient_rng(seed, site, index, "outcome").random() < probability),
    )


def draw_patient(
    seed: int,
    site: str,
    index: int,
    scanner: Scanner,
    outcome: OutcomeModel,
    id_width: int = 4,
    intercept_shift: float = 0.0,
) -> Patient:
    """Draw one patient: profile, anatomy, field-of-view position and inter-sequence motion."""
    profile = draw_profile(seed, site, index, outcome, id_width, intercept_shift)
    geo = patient_rng(seed, site, index, "anatomy")
    anatomy = draw_anatomy(geo, profile.fat_mm, profile.diameter_mm)
    fov_center = tuple(round(float(v), 6) for v in geo.normal(0.0, FOV_JITTER_MM, 3))
    motion = tuple(round(float(v), 6) for v in scanner.motion_mm * geo.standard_normal(3))
    return Patient(
        **{f.name: getattr(profile, f.name) for f in fields(Profile)},
        anatomy=anatomy,
        fov_center=fov_center,  # type: ignore[arg-type]
        motion_mm=motion,  # type: ignore[arg-type]
    )
