"""The cohort manifest: one row per patient, paths relative to the manifest's folder.

Columns: ``patient_id``, ``site``, ``split`` (train, internal_test, external_test or empty),
``label`` (0/1), ``image_<seq>`` per sequence, optional ``mask_<seq>`` (reference mask) and
``mask2_<seq>`` (a second segmentation of the same lesion, for robustness), and any further
columns as clinical covariates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from radiopipe.atomic import write_csv
from radiopipe.contracts import MANIFEST_SPLITS, split_values
from radiopipe.errors import ManifestError
from radiopipe.hashing import file_sha256

DEFAULT_SEQUENCES = ("t2w", "cet1w")
SPLITS = tuple(split_values(MANIFEST_SPLITS))
REQUIRED_COLUMNS = ("patient_id", "site", "split", "label")
IMAGE_PREFIX, MASK_PREFIX, MASK2_PREFIX = "image_", "mask_", "mask2_"
# Acquisition metadata columns `<seq>__<field>` (written by `radiopipe import dicom`).
ACQUISITION_FIELDS = (
    "manufacturer",
    "model",
    "field_strength_t",
    "tr_ms",
    "te_ms",
    "slice_thickness_mm",
    "pixel_spacing_mm",
)


@dataclass(frozen=True)
class Cohort:
    """A validated-in-shape manifest: table indexed by patient, paths made absolute."""

    table: pd.DataFrame
    sequences: tuple[str, ...]
    source: Path | None = None
    _sha256: str | None = field(default=None, repr=False, compare=False)

    @property
    def patients(self) -> list[str]:
        """Patient IDs in manifest order."""
        return list(self.table["patient_id"])

    @property
    def sha256(self) -> str | None:
        """Hash of the manifest file (None if built in memory)."""
        return self._sha256

    @property
    def covariates(self) -> list[str]:
        """Columns that are neither identifiers, labels, paths nor acquisition metadata."""
        path_prefixes = (IMAGE_PREFIX, MASK_PREFIX, MASK2_PREFIX)
        acquisition = set(self.acquisition_columns)
        return [
            c for c in self.table.columns
            if c not in REQUIRED_COLUMNS and not c.startswith(path_prefixes)
            and c not in acquisition
        ]  # fmt: skip

    @property
    def acquisition_columns(self) -> list[str]:
        """The `<seq>__<field>` scanner/protocol columns present (e.g. ``t2w__tr_ms``)."""
        names = {f"{s}__{f}" for s in self.sequences for f in ACQUISITION_FIELDS}
        return [c for c in self.table.columns if c in names]

    def row(self, patient_id: str) -> pd.Series:
        """The manifest row of one patient."""
        rows = self.table.loc[self.table["patient_id"] == patient_id]
        if rows.empty:
            raise KeyError(f"patient {patient_id} is not in the manifest")
        return rows.iloc[0]

    def image_path(self, patient_id: str, sequence: str) -> Path:
        """Absolute path of a patient's image for one sequence."""
        return Path(self.row(patient_id)[IMAGE_PREFIX + sequence])

    def mask_path(self, patient_id: str, sequence: str, second: bool = False) -> Path | None:
        """Absolute path of a patient's mask (or second mask) for one sequence, if any."""
        column = (MASK2_PREFIX if second else MASK_PREFIX) + sequence
        if column not in self.table.columns:
            return None
        value = self.row(patient_id)[column]
        return Path(value) if isinstance(value, str) and value else None

    def has_masks(self, second: bool = False) -> bool:
        """True if every sequence has a (second) mask column."""
        prefix = MASK2_PREFIX if second else MASK_PREFIX
        return all(prefix + s in self.table.columns for s in self.sequences)

    def subset(self, split: str | None = None, patients: list[str] | None = None) -> Cohort:
        """The cohort restricted to a split and/or a list of patients."""
        mask = pd.Series(True, index=self.table.index)
        if split is not None:
            mask &= self.table["split"] == split
        if patients is not None:
            mask &= self.table["patient_id"].isin(patients)
        return Cohort(self.table.loc[mask].reset_index(drop=True), self.sequences, self.source)

    def with_columns(self, **columns: list | pd.Series) -> Cohort:
        """A copy with columns added or replaced (e.g. new mask paths)."""
        table = self.table.copy()
        for name, values in columns.items():
            table[name] = list(values)
        return Cohort(table, self.sequences, self.source)


def sequences_in(columns: list[str]) -> tuple[str, ...]:
    """Sequence names inferred from ``image_<seq>`` columns, in column order."""
    return tuple(c[len(IMAGE_PREFIX) :] for c in columns if c.startswith(IMAGE_PREFIX))


def read_manifest(path: str | Path, sequences: tuple[str, ...] | None = None) -> Cohort:
    """Read a manifest CSV; relative paths resolve against its folder.

    Only structure is checked here (file readable, required columns present); use
    :func:`radiopipe.cohort.validate.validate_cohort` to check content and files.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest file does not exist")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise ManifestError(f"{path}: not a readable CSV manifest ({err})") from None
    table.columns = [c.strip() for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    found = sequences_in(list(table.columns))
    sequences = tuple(sequences) if sequences else found
    missing += [IMAGE_PREFIX + s for s in sequences if IMAGE_PREFIX + s not in table.columns]
    if not sequences:
        missing.append("image_<sequence> (at least one)")
    if missing:
        raise ManifestError(
            f"{path}: missing required column(s): {', '.join(missing)}. "
            f"Required: {', '.join(REQUIRED_COLUMNS)}, image_<sequence> per sequence; "
            f"found: {', '.join(table.columns)}"
        )
    for column in table.columns:
        table[column] = table[column].str.strip()
    base = path.resolve().parent
    for column in table.columns:
        if column.startswith((IMAGE_PREFIX, MASK_PREFIX, MASK2_PREFIX)):
            table[column] = [_resolve(base, v) for v in table[column]]
    return Cohort(table, sequences, path.resolve(), file_sha256(path))


def labels(cohort: Cohort) -> pd.Series:
    """Labels as integers indexed by patient (raises if any is not 0/1)."""
    values = cohort.table.set_index("patient_id")["label"]
    bad = values[~values.isin(["0", "1", 0, 1])]
    if not bad.empty:
        raise ManifestError(
            f"labels must be 0 or 1; patient(s) {', '.join(map(str, bad.index[:10]))} have "
            f"{', '.join(map(repr, bad.values[:10]))}"
        )
    return values.astype(int)


def write_manifest(cohort: Cohort | pd.DataFrame, path: str | Path) -> Path:
    """Write a manifest CSV atomically, with paths made relative to its folder."""
    path = Path(path)
    table = cohort.table.copy() if isinstance(cohort, Cohort) else cohort.copy()
    base = path.resolve().parent
    for column in table.columns:
        if column.startswith((IMAGE_PREFIX, MASK_PREFIX, MASK2_PREFIX)):
            table[column] = [_relative(base, v) for v in table[column]]
    return write_csv(path, table)


def _resolve(base: Path, value: str) -> str:
    if not value:
        return ""
    candidate = Path(value)
    return os.path.normpath(candidate if candidate.is_absolute() else base / candidate)


def _relative(base: Path, value: object) -> str:
    if not isinstance(value, str) or not value:
        return ""
    absolute = Path(value).resolve()
    try:
        return os.path.relpath(absolute, base)
    except ValueError:  # different drive on Windows
        return str(absolute)
