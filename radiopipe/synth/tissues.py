"""Relative noise-free signal of each tissue per sequence, and hidden lesion properties -> signal.

Units: 1.0 is urine on T2WI (fast spin echo, no fat suppression) and about strongly enhancing
myometrium on CE-T1WI (fat-suppressed gradient echo, venous phase). Scanners map these to
their own units (scale, offset, contrast transfer, bias field, Rician noise).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import ndtr

SIGNAL: dict[str, dict[str, float]] = {
    "t2w": {
        "air": 0.0,
        "subcutaneous_fat": 0.70,
        "visceral_fat": 0.64,
        "muscle": 0.22,
        "bone_marrow": 0.50,
        "urine": 1.00,
        "bowel": 0.40,  # bowel wall and contents
        "gas": 0.02,
        "artery": 0.04,  # flow void
        "vein": 0.08,
        "myometrium": 0.54,
        "endometrium": 0.82,
        "capsule": 0.76,  # oedematous pseudocapsule: a bright rim
        "degenerated": 0.92,  # cystic / myxoid degeneration: T2 bright
    },
    "cet1w": {
        "air": 0.0,
        "subcutaneous_fat": 0.07,
        "visceral_fat": 0.14,
        "muscle": 0.30,
        "bone_marrow": 0.16,
        "urine": 0.08,
        "bowel": 0.42,  # enhancing bowel wall
        "gas": 0.02,
        "artery": 0.95,
        "vein": 0.90,
        "myometrium": 0.85,
        "endometrium": 0.55,
        "capsule": 0.90,
        "degenerated": 0.07,  # non-perfused: no enhancement
    },
}

CAPSULE_MM = 2.5  # pseudocapsule rim around the fibroid (outside the lesion mask)

# Reader grading (what a radiologist reports) from the noise-free solid-tissue signal.
FUNAKI_READER_SD = 0.015
ENHANCEMENT_READER_SD = 0.03
FUNAKI_III_OF_MYOMETRIUM = 0.8  # type III: at least about as bright as myometrium
ENHANCEMENT_CUTS = (0.55, 0.80)  # solid CE-T1 signal / myometrium: grade 1 | 2 | 3


@dataclass(frozen=True)
class LesionTissue:
    """The lesion's hidden tissue properties, as they shape the images."""

    t2_solid: float  # relative T2 signal of the solid (non-degenerated) tissue: cellularity
    ce_solid: float  # relative CE-T1 signal of the solid tissue: vascularity / enhancement
    heterogeneity: float  # SD of the multiplicative texture of the solid tissue
    degeneration: float  # volume fraction of cystic / necrotic (non-enhancing) patches

    def as_dict(self) -> dict[str, float]:
        """Plain data."""
        return asdict(self)


def lesion_tissue(latents: dict[str, float]) -> LesionTissue:
    """Map latent standard-normal scores to tissue properties (documented monotone maps)."""
    return LesionTissue(
        t2_solid=float(np.clip(0.28 + 0.11 * latents["cellularity"], 0.06, 0.80)),
        ce_solid=float(np.clip(0.55 + 0.17 * latents["vascularity"], 0.12, 1.20)),
        heterogeneity=float(np.clip(0.12 * np.exp(0.45 * latents["heterogeneity"]), 0.02, 0.45)),
        degeneration=float(0.40 * ndtr(1.2 * latents["degeneration"] - 1.0)),
    )


def fat_thickness_mm(latent: float) -> float:
    """Anterior abdominal subcutaneous fat thickness from its latent score."""
    return float(np.clip(20.0 + 7.0 * latent, 6.0, 45.0))


def funaki_type(t2_read: float) -> int:
    """Funaki type: 1 darker than muscle, 3 about as bright as myometrium, else 2."""
    if t2_read < SIGNAL["t2w"]["muscle"]:
        return 1
    if t2_read >= FUNAKI_III_OF_MYOMETRIUM * SIGNAL["t2w"]["myometrium"]:
        return 3
    return 2


def enhancement_grade(ce_read: float) -> int:
    """CE-T1 enhancement grade relative to myometrium: 1 mild, 2 moderate, 3 marked."""
    ratio = ce_read / SIGNAL["cet1w"]["myometrium"]
    low, high = ENHANCEMENT_CUTS
    return 1 if ratio < low else (3 if ratio >= high else 2)
