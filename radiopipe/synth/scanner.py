"""Scanner character per site (resolution, SNR, intensity scale, contrast, bias) and volume sizes.

Sites "A" and "B" follow the study's two GE scanners (STUDY.md Table 1); any other site name
gets scanner parameters drawn from a random stream keyed by the cohort seed and the site name,
so the same name and seed always give the same scanner.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

SEQUENCES = ("t2w", "cet1w")

# Random-stream keys (SeedSequence entropy words) so each purpose draws from its own stream.
SITE_STREAM = 1
SPLIT_STREAM = 2


@dataclass(frozen=True)
class SequenceProtocol:
    """How one site acquires one sequence.

    ``snr`` is the per-voxel signal-to-noise ratio of a reference tissue of relative signal 1
    (urine on T2WI, strongly enhancing tissue on CE-T1WI); it is kept per voxel at every
    volume size so that image quality does not change with ``--size``.
    """

    inplane_mm: float  # in-plane spacing at the default size
    slice_mm: float  # slice spacing at the default size (contiguous slices, no gap)
    snr: float  # Rician noise: sigma = scale / snr
    scale: float  # scanner units per relative signal unit
    offset: float  # baseline added to every voxel (scanner units)
    gamma: float  # contrast transfer: relative signal ** gamma (field-strength contrast)
    blur_vox: float  # in-plane point-spread function, Gaussian sigma in voxels
    bias_sd: float  # SD of the random log bias-field polynomial coefficients
    coil: float  # phased-array coil profile strength (log units, brighter near the surfaces)


@dataclass(frozen=True)
class Scanner:
    """One site's scanner: a protocol per sequence and how much patients move between them."""

    site: str
    model: str
    field_t: float
    t2w: SequenceProtocol
    cet1w: SequenceProtocol
    motion_mm: float  # SD of the inter-sequence patient translation per axis

    def protocol(self, sequence: str) -> SequenceProtocol:
        """The protocol of one sequence (``t2w`` or ``cet1w``)."""
        return getattr(self, sequence)

    def as_dict(self) -> dict:
        """Plain-data form for synth.json."""
        return asdict(self)


@dataclass(frozen=True)
class SizePreset:
    """How large the volumes are: field of view, coverage and resolution factors."""

    name: str
    fov_mm: float  # square in-plane field of view, centred near the uterus
    coverage_mm: float  # slab covered by the slices
    inplane_scale: float  # multiplies each site's in-plane spacing
    slice_scale: float  # multiplies each site's slice spacing
    texture_mm: float  # spacing of the lattice on which lesion texture is generated


SIZES: dict[str, SizePreset] = {
    "default": SizePreset("default", 260.0, 132.0, 1.0, 1.0, 1.5),
    "small": SizePreset("small", 200.0, 120.0, 2.0, 1.0, 2.0),
    "tiny": SizePreset("tiny", 168.0, 108.0, 3.6, 1.5, 3.0),
}


@dataclass(frozen=True)
class Grid:
    """A sequence's voxel grid: numpy (z, y, x) shape, spacing and origin (x, y, z) in mm."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]

    def axis(self, dim: int) -> np.ndarray:
        """Physical coordinates (mm) of voxel centres along x (0), y (1) or z (2)."""
        n = self.shape[2 - dim]
        return (self.origin[dim] + self.spacing[dim] * np.arange(n)).astype(np.float32)

    def index_range(self, dim: int, low: float, high: float) -> slice:
        """Voxel index range along ``dim`` whose centres fall in [low, high] mm (clipped)."""
        n = self.shape[2 - dim]
        start = int(np.ceil((low - self.origin[dim]) / self.spacing[dim]))
        stop = int(np.floor((high - self.origin[dim]) / self.spacing[dim])) + 1
        return slice(min(max(start, 0), n), min(max(stop, 0), n))


PRESETS: dict[str, Scanner] = {
    "A": Scanner(
        site="A",
        model="GE Signa HDxt 3.0 T (preset)",
        field_t=3.0,
        t2w=SequenceProtocol(0.90, 6.0, 34.0, 2400.0, 0.0, 1.00, 0.45, 0.10, 0.35),
        cet1w=SequenceProtocol(1.02, 4.0, 28.0, 1500.0, 0.0, 1.00, 0.50, 0.10, 0.35),
        motion_mm=1.5,
    ),
    "B": Scanner(
        site="B",
        model="GE Signa Voyager 1.5 T (preset)",
        field_t=1.5,
        t2w=SequenceProtocol(1.17, 6.0, 17.0, 900.0, 60.0, 0.80, 0.75, 0.05, 0.18),
        cet1w=SequenceProtocol(1.25, 4.0, 14.0, 2600.0, 0.0, 1.20, 0.80, 0.05, 0.18),
        motion_mm=2.5,
    ),
}


def site_key(site: str) -> int:
    """A stable 64-bit integer for a site name (for random-stream keys)."""
    return int.from_bytes(hashlib.sha256(site.encode("utf-8")).digest()[:8], "little")


def scanner_for(site: str, seed: int) -> Scanner:
    """The preset scanner of site A or B; any other name gets seeded random parameters."""
    if site in PRESETS:
        return PRESETS[site]
    rng = np.random.default_rng(np.random.SeedSequence([seed, SITE_STREAM, site_key(site)]))
    field = float(rng.choice([1.5, 3.0]))
    snr_base = 30.0 if field == 3.0 else 17.0

    def protocol(slice_choices: tuple[float, ...]) -> SequenceProtocol:
        return SequenceProtocol(
            inplane_mm=round(float(rng.uniform(0.8, 1.4)), 3),
            slice_mm=float(rng.choice(slice_choices)),
            snr=round(snr_base * float(rng.uniform(0.75, 1.3)), 2),
            scale=round(float(np.exp(rng.uniform(np.log(400), np.log(4000)))), 1),
            offset=round(float(rng.choice([0.0, rng.uniform(0, 120)])), 1),
            gamma=round(float(rng.uniform(0.75, 1.25)), 3),
            blur_vox=round(float(rng.uniform(0.3, 0.9)), 3),
            bias_sd=round(float(rng.uniform(0.03, 0.12)), 3),
            coil=round(float(rng.uniform(0.1, 0.4)), 3),
        )

    return Scanner(
        site=site,
        model=f"random {field:.1f} T scanner (seeded by site name and seed)",
        field_t=field,
        t2w=protocol((5.0, 6.0)),
        cet1w=protocol((4.0, 5.0)),
        motion_mm=round(float(rng.uniform(1.0, 3.0)), 2),
    )


def sequence_grid(protocol: SequenceProtocol, size: SizePreset, center: np.ndarray) -> Grid:
    """The voxel grid of one sequence at one size, centred on ``center`` (x, y, z mm)."""
    inplane = protocol.inplane_mm * size.inplane_scale
    slice_mm = protocol.slice_mm * size.slice_scale
    n_xy = max(16, round(size.fov_mm / inplane))
    n_z = max(6, round(size.coverage_mm / slice_mm))
    spacing = (round(inplane, 4), round(inplane, 4), round(slice_mm, 4))
    shape = (n_z, n_xy, n_xy)
    origin = tuple(
        round(float(center[d]) - (shape[2 - d] - 1) / 2 * spacing[d], 3) for d in range(3)
    )
    return Grid(shape, spacing, origin)  # type: ignore[arg-type]


# --scanner-effect: how far each site's scanner sits from the reference scanner (site A's
# preset). 0 renders every site with the reference protocol, 1 keeps each site's own scanner,
# S scales each parameter's deviation from the reference by S: multiplicatively (ratios) for
# the scale, SNR and spacings, additively for the rest; then clamps to a sane range.
REFERENCE_SITE = "A"
MULTIPLICATIVE = ("inplane_mm", "slice_mm", "snr", "scale")
CLAMP: dict[str, tuple[float, float]] = {
    "inplane_mm": (0.3, 3.0),
    "slice_mm": (1.0, 12.0),
    "snr": (3.0, 200.0),
    "scale": (10.0, 30000.0),
    "offset": (0.0, 1000.0),
    "gamma": (0.3, 3.0),
    "blur_vox": (0.0, 3.0),
    "bias_sd": (0.0, 0.4),
    "coil": (0.0, 1.2),
}
MOTION_CLAMP = (0.0, 10.0)


def scaled_protocol(
    protocol: SequenceProtocol, reference: SequenceProtocol, effect: float
) -> SequenceProtocol:
    """``protocol`` with its deviation from ``reference`` scaled by ``effect`` (clamped)."""
    values = {}
    for name, (low, high) in CLAMP.items():
        mine, ref = getattr(protocol, name), getattr(reference, name)
        if name in MULTIPLICATIVE:
            value = ref * (mine / ref) ** effect
        else:
            value = ref + effect * (mine - ref)
        values[name] = round(float(min(max(value, low), high)), 6)
    return SequenceProtocol(**values)


def scanner_with_effect(scanner: Scanner, reference: Scanner, effect: float) -> Scanner:
    """The scanner at scanner effect ``effect`` (1: unchanged; 0: the reference's protocol)."""
    if effect == 1.0:
        return scanner
    motion = reference.motion_mm + effect * (scanner.motion_mm - reference.motion_mm)
    return Scanner(
        site=scanner.site,
        model=f"{scanner.model}, scanner effect {effect:g} relative to site {reference.site}",
        field_t=scanner.field_t,
        t2w=scaled_protocol(scanner.t2w, reference.t2w, effect),
        cet1w=scaled_protocol(scanner.cet1w, reference.cet1w, effect),
        motion_mm=round(float(min(max(motion, MOTION_CLAMP[0]), MOTION_CLAMP[1])), 6),
    )
