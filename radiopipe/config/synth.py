"""Settings of the synthetic cohort generator (``radiopipe synth``, ``generate_cohort``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from radiopipe.config.core import StrictModel
from radiopipe.errors import ConfigError

DEFAULT_SITES: Mapping[str, int] = {"A": 300, "B": 60}
DEFAULT_EFFECT_SIZE = 2.5
DEFAULT_POSITIVE_FRACTION = 0.57
MIN_PATIENTS_PER_SITE = 2  # as radiopipe validate and harmonisation require
MAX_PATIENTS_PER_SITE = 99_999
SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{0,31}$")


class SynthConfig(StrictModel):
    """What cohort to synthesise; every field shapes the bytes written (workers do not)."""

    sites: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_SITES))
    seed: int = Field(0, ge=0, lt=2**63)
    size: Literal["default", "small", "tiny"] = "default"
    effect_size: float = Field(DEFAULT_EFFECT_SIZE, ge=0, le=10)
    positive_fraction: float = Field(DEFAULT_POSITIVE_FRACTION, gt=0, lt=1)
    # Default (None or absent): ["B"] if there is a site B, else no external site.
    external_sites: list[str] | None = None
    internal_test_fraction: float = Field(0.2, ge=0, lt=1)
    # Scenarios (docs/synthetic_cohort.md "Scenarios"): 0 = every site scans like site A,
    # 1 = each site's own scanner (the default; the same bytes as before the option existed),
    # 2 = each protocol parameter twice as far from site A's.
    scanner_effect: float = Field(1.0, ge=0, le=5)
    # Site prevalence differs: site k of n (in the order given) shifts the outcome log-odds by
    # confound_shift * (2k/(n-1) - 1), i.e. evenly from -confound_shift to +confound_shift.
    confound: bool = False
    confound_shift: float = Field(1.0, ge=0, le=5)

    def site_shifts(self) -> dict[str, float]:
        """Each site's shift of the outcome log-odds (all 0.0 without ``confound``)."""
        names = list(self.sites)
        if not self.confound or len(names) < 2:
            return {name: 0.0 for name in names}
        last = len(names) - 1
        return {
            name: round(self.confound_shift * (2 * k / last - 1), 12)
            for k, name in enumerate(names)
        }

    def settings_record(self) -> dict:
        """The settings for synth.json: scenario fields only when they differ from today's.

        Keeps synth.json of a default cohort byte-identical to the one written before the
        scenario options existed (so existing cohorts resume instead of being refused).
        """
        record = self.model_dump(mode="json")
        if self.scanner_effect == 1.0:
            record.pop("scanner_effect")
        if not self.confound:
            record.pop("confound")
            record.pop("confound_shift")
        return record

    @field_validator("sites")
    @classmethod
    def _check_sites(cls, sites: dict[str, int]) -> dict[str, int]:
        if not sites:
            raise ValueError("give at least one site, e.g. A:300,B:60")
        for name, count in sites.items():
            if not SITE_NAME.match(name):
                raise ValueError(
                    f"site name {name!r} must be 1-32 letters, digits or '_' (starting with a "
                    "letter or digit); it becomes part of patient IDs and file names"
                )
            if not MIN_PATIENTS_PER_SITE <= count <= MAX_PATIENTS_PER_SITE:
                raise ValueError(
                    f"site {name!r} has {count} patient(s); each site needs "
                    f"{MIN_PATIENTS_PER_SITE}-{MAX_PATIENTS_PER_SITE} (harmonisation and "
                    "validation need at least 2 per site)"
                )
        return sites

    @model_validator(mode="before")
    @classmethod
    def _default_external(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("external_sites") is None:
            sites = data.get("sites", DEFAULT_SITES)
            has_b = isinstance(sites, Mapping) and "B" in sites
            data = {**data, "external_sites": ["B"] if has_b else []}
        return data

    @field_validator("external_sites")
    @classmethod
    def _check_external(cls, external: list[str] | None, info: ValidationInfo) -> list[str]:
        external = external or []
        sites = info.data.get("sites") or {}
        unknown = [s for s in external if s not in sites]
        if unknown:
            raise ValueError(
                f"external site(s) {', '.join(unknown)} not among the sites {', '.join(sites)}"
            )
        if len(set(external)) != len(external):
            raise ValueError(f"external sites repeat a name: {', '.join(external)}")
        return external


def parse_sites(text: str) -> dict[str, int]:
    """Parse ``A:300,B:60`` into ``{"A": 300, "B": 60}`` with errors naming the bad part."""
    sites: dict[str, int] = {}
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise ConfigError(f"--sites {text!r}: expected SITE:COUNT pairs such as A:300,B:60")
    for part in parts:
        name, sep, count = (s.strip() for s in part.partition(":"))
        if not sep or not name or not count:
            raise ConfigError(
                f"--sites: {part!r} is not SITE:COUNT (expected pairs such as A:300,B:60)"
            )
        if not count.isdigit():
            raise ConfigError(f"--sites: patient count {count!r} of site {name!r} is not a number")
        if name in sites:
            raise ConfigError(f"--sites: site {name!r} is given twice")
        sites[name] = int(count)
    return sites


def parse_site_list(text: str | None) -> list[str] | None:
    """Parse ``B`` or ``B,C`` (``none`` or empty: no external site; None: the default)."""
    if text is None:
        return None
    if text.strip().lower() in ("", "none"):
        return []
    names = [t.strip() for t in text.split(",")]
    if any(not n for n in names):
        raise ConfigError(f"--external-sites {text!r}: expected names such as B or B,C")
    return names
