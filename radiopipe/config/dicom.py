"""Rules of `radiopipe import dicom`: patient ids and how series are chosen per sequence."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from radiopipe.config.core import StrictModel, load_config

SEQUENCE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"{pattern!r} is not a valid regular expression ({err})") from None
    return patterns


class MaskRule(StrictModel):
    """Which lesion mask of the chosen series to import (RTSTRUCT ROI or DICOM SEG segment)."""

    roi: str = Field("(?i)lesion|tumou?r|fibroid|gtv", description="RTSTRUCT ROI name regex")
    segment: str = Field(
        "(?i)lesion|tumou?r|fibroid|gtv", description="DICOM SEG segment label regex"
    )
    required: bool = True  # a chosen series without a matching mask is a problem

    @field_validator("roi", "segment")
    @classmethod
    def _regex(cls, value: str) -> str:
        return _check_patterns([value])[0]


class SequenceRule(StrictModel):
    """How to recognise the series of one sequence among a study's series."""

    description: list[str] = Field(default_factory=list)  # SeriesDescription regexes (any)
    protocol: list[str] = Field(default_factory=list)  # ProtocolName regexes (any)
    exclude: list[str] = Field(default_factory=list)  # description/protocol regexes to reject
    contrast: bool | None = None  # True: ContrastBolusAgent present; False: absent
    acquisition_type: Literal["2D", "3D"] | None = None  # MRAcquisitionType
    modality: str = "MR"
    prefer: Literal["latest", "earliest", "unique"] = "unique"
    min_slices: int = Field(1, ge=1)
    resample: bool = False  # allow resampling non-uniform slice spacing / missing slices
    mask: MaskRule | None = None

    @field_validator("description", "protocol", "exclude")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        return _check_patterns(value)

    @model_validator(mode="after")
    def _needs_pattern(self) -> SequenceRule:
        if not self.description and not self.protocol:
            raise ValueError("give at least one description or protocol pattern")
        return self


class PatientIds(StrictModel):
    """Where patient ids come from: a DICOM tag, or a mapping CSV (dicom_id -> patient_id)."""

    tag: str = "PatientID"
    mapping: Path | None = None  # CSV with columns dicom_id, patient_id (dicom_id = the tag)

    @field_validator("tag")
    @classmethod
    def _known_tag(cls, tag: str) -> str:
        from pydicom.datadict import tag_for_keyword

        if tag_for_keyword(tag) is None:
            raise ValueError(f"{tag!r} is not a DICOM keyword (e.g. PatientID, AccessionNumber)")
        if tag in PERSONAL_TAGS:
            raise ValueError(f"{tag!r} identifies a person; use PatientID or a mapping CSV")
        return tag

    @model_validator(mode="after")
    def _mapped_if_identifying(self) -> PatientIds:
        if self.tag in IDENTIFYING_TAGS and self.mapping is None:
            raise ValueError(
                f"tag {self.tag!r} is an identifier that must not reach the outputs: give a "
                "mapping CSV (dicom_id, patient_id) to replace it by study ids"
            )
        return self


# Names, dates and places of a person: never an id, never copied anywhere.
PERSONAL_TAGS = (
    "PatientName",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "OtherPatientNames",
    "PatientMotherBirthName",
    "ReferringPhysicianName",
    "InstitutionName",
    "InstitutionAddress",
)
# Tags never copied into any output (the privacy contract of the importer); the hospital
# identifiers among them may serve as ids only through a mapping CSV.
IDENTIFYING_TAGS = (*PERSONAL_TAGS, "AccessionNumber", "OtherPatientIDs", "StudyID")


class DicomRules(StrictModel):
    """The whole rules file of ``radiopipe import dicom``."""

    patient_id: PatientIds = Field(default_factory=PatientIds)
    sequences: dict[str, SequenceRule]

    @field_validator("sequences")
    @classmethod
    def _keys(cls, sequences: dict[str, SequenceRule]) -> dict[str, SequenceRule]:
        if not sequences:
            raise ValueError("give at least one sequence, e.g. t2w: {description: ['(?i)t2']}")
        for key in sequences:
            if not SEQUENCE_KEY.match(key):
                raise ValueError(f"sequence key {key!r}: use lower-case letters, digits and '_'")
        return sequences


def load_rules(path: str | Path) -> DicomRules:
    """Read and validate a rules YAML (a mapping CSV path is taken relative to it)."""
    rules = load_config(path, DicomRules)
    mapping = rules.patient_id.mapping
    if mapping is not None and not mapping.is_absolute():
        rules.patient_id.mapping = Path(path).parent / mapping
    return rules
