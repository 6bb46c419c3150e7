"""Turn task outcomes into the stage's tables: wide features, diagnostics, failures."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from radiopipe.features.engine import TaskOutcome
from radiopipe.features.naming import column_name

FAILURE_COLUMNS = ["patient_id", "sequence", "file", "error"]

# Parquet metadata keys of features.parquet (read with radiopipe.atomic.read_parquet_metadata).
META_SETTINGS_HASH = "settings_sha256"
META_PYRADIOMICS = "pyradiomics_version"
META_PARAMS = "pyradiomics_params"
META_SEQUENCES = "sequences"


def feature_table(
    patients: Sequence[str], sequences: Sequence[str], outcomes: Sequence[TaskOutcome]
) -> pd.DataFrame:
    """One row per patient (manifest order): patient_id, then float64 ``<seq>__<name>`` columns.

    A task that failed leaves NaN in its sequence's columns; failures.csv says why.
    """
    by_task = {(o.task.patient_id, o.task.sequence): o for o in outcomes if o.ok}
    row_of = {pid: i for i, pid in enumerate(patients)}
    columns: dict[str, np.ndarray] = {}
    for sequence in sequences:
        names: dict[str, None] = {}  # ordered union of feature names over patients
        for pid in patients:
            outcome = by_task.get((pid, sequence))
            if outcome is not None:
                names.update(dict.fromkeys(outcome.features))
        block = np.full((len(patients), len(names)), np.nan, dtype=np.float64)
        index = {name: j for j, name in enumerate(names)}
        for pid in patients:
            outcome = by_task.get((pid, sequence))
            if outcome is None:
                continue
            row = row_of[pid]
            for name, value in outcome.features.items():
                block[row, index[name]] = value
        for name, j in index.items():
            columns[column_name(sequence, name)] = block[:, j]
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(patients)))
    frame.insert(0, "patient_id", pd.Series(list(patients), dtype=str))
    return frame


def diagnostics_table(outcomes: Sequence[TaskOutcome]) -> pd.DataFrame:
    """One row per successful task: patient_id, sequence, then pyradiomics' diagnostics."""
    rows = []
    for outcome in outcomes:
        if outcome.ok:
            row = {"patient_id": outcome.task.patient_id, "sequence": outcome.task.sequence}
            row.update(outcome.diagnostics)
            row["cached"] = outcome.cached
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["patient_id", "sequence"])
    for column in frame.columns[2:]:
        frame[column] = _column_values(frame[column])
    return frame


def failures_table(outcomes: Sequence[TaskOutcome]) -> pd.DataFrame:
    """One row per failed task: patient_id, sequence, file, error."""
    rows = [
        {
            "patient_id": o.task.patient_id,
            "sequence": o.task.sequence,
            "file": o.file or "",
            "error": o.error,
        }
        for o in outcomes
        if not o.ok
    ]
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


def _column_values(values: pd.Series) -> pd.Series:
    """Numbers stay numeric (float64 or bool); anything else becomes text (JSON for lists)."""
    present = [v for v in values if not _missing(v)]
    if present and all(isinstance(v, bool) for v in present):
        return values.astype("boolean")
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.to_numeric(values, errors="coerce").astype(np.float64)
    return pd.Series([_text(v) for v in values], index=values.index, dtype=object)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str | None:
    if _missing(value):
        return None
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value)
    return str(value)
