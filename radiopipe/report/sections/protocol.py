"""Imaging protocol per site: scanner and acquisition parameters from the manifest's metadata.

The manifest columns ``<seq>__manufacturer``, ``__model``, ``__field_strength_t``,
``__tr_ms``, ``__te_ms``, ``__slice_thickness_mm``, ``__pixel_spacing_mm`` are written by
``radiopipe import dicom``; this module only tabulates them (no statistics).
"""

from __future__ import annotations

import pandas as pd

from radiopipe.cohort.manifest import ACQUISITION_FIELDS
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Table

HEADERS = {
    "manufacturer": "Manufacturer",
    "model": "Model",
    "field_strength_t": "Field (T)",
    "tr_ms": "TR (ms)",
    "te_ms": "TE (ms)",
    "slice_thickness_mm": "Slice (mm)",
    "pixel_spacing_mm": "Pixel (mm)",
}


def protocol_frame(manifest: pd.DataFrame | None) -> pd.DataFrame | None:
    """One row per site and sequence: each parameter's distinct values with patient counts."""
    if manifest is None or "site" not in manifest.columns:
        return None
    sequences = [
        c[: -len("__manufacturer")] for c in manifest.columns if c.endswith("__manufacturer")
    ]
    if not sequences:
        return None
    rows = []
    for site, group in manifest.groupby("site", sort=True):
        for seq in sequences:
            row = {"site": str(site), "sequence": seq, "patients": len(group)}
            for field in ACQUISITION_FIELDS:
                column = f"{seq}__{field}"
                row[field] = _values(group[column]) if column in group.columns else ""
            rows.append(row)
    return pd.DataFrame(rows)


def _values(column: pd.Series) -> str:
    """'3' when all patients agree, else '3 (n = 40); 1.5 (n = 2)'."""
    counts = column.astype(str).replace({"": "not recorded", "nan": "not recorded"}).value_counts()
    if len(counts) == 1:
        return str(counts.index[0])
    return "; ".join(f"{value} (n = {n})" for value, n in counts.items())


def protocol_table(ctx: ReportContext) -> Table | None:
    """The imaging protocol table for the cohort section, or None without metadata columns."""
    frame = protocol_frame(ctx.run.manifest)
    if frame is None:
        return None
    header = ["Site", "Sequence", "n", *HEADERS.values()]
    rows = [
        [str(r["site"]), str(r["sequence"]), str(r["patients"]), *(str(r[f]) for f in HEADERS)]
        for _, r in frame.iterrows()
    ]
    return Table(
        "Imaging protocol by site (from the DICOM headers)",
        header,
        rows,
        align="ll" + "r" * (len(header) - 2),
        footnote="Values read from each chosen series by radiopipe import dicom; "
        "a parameter that varies within a site lists each value with its number of patients.",
        wide=True,
    )
