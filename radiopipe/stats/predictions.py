"""The long predictions table: read, check, and cut into per-model, per-split score vectors.

Contract (DEVELOPERS.md): ``patient_id, split, fold, model, probability, label``. In the
pooled splits (``train_oof``, ``cv``) a patient appears once per repeat of the
cross-validation; statistics use the patient's mean probability over repeats (one row per
patient, so DeLong and the bootstrap see independent patients) and per-fold AUCs come from
the rows of each fold. In every other split a patient appears once per model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.contracts import (
    OOF_SPLITS,
    PREDICTIONS,
    PREDICTIONS_COLUMNS,
    SPLIT_ORDER,
    ContractError,
    require_columns,
)
from radiopipe.stats.checks import StatsInputError, require_both_classes

COLUMNS = PREDICTIONS_COLUMNS
POOLED_SPLITS = OOF_SPLITS


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read ``predictions.parquet`` (or a CSV with the same columns) and check it."""
    path = Path(path)
    if not path.is_file():
        raise StatsInputError(f"{path}: predictions file does not exist")
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype={"patient_id": str, "split": str, "model": str})
        else:
            frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow and pandas raise many kinds
        raise StatsInputError(f"{path}: cannot read the predictions table ({err})") from None
    return check_predictions(frame, str(path))


def _show(items: list[str], limit: int = 10) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def check_predictions(frame: pd.DataFrame, source: str = "predictions") -> pd.DataFrame:
    """Normalised copy of a predictions table; any problem is an error naming rows."""
    try:
        require_columns(frame, PREDICTIONS, source)
    except ContractError as err:
        raise StatsInputError(str(err)) from None
    if frame.empty:
        raise StatsInputError(f"{source}: the predictions table has no rows")
    out = frame.loc[:, list(COLUMNS)].copy()
    for column in ("patient_id", "split", "model"):
        blank = out[column].isna() | (out[column].astype(str).str.strip() == "")
        if blank.any():
            raise StatsInputError(f"{source}: empty {column} in row(s) {_show(_rows(blank))}")
        out[column] = out[column].astype(str).str.strip()
    out["fold"] = _integers(out, "fold", source)
    out["probability"] = _probabilities(out, source)
    out["label"] = _labels(out, source)
    _check_duplicates(out, source)
    return out.reset_index(drop=True)


def _rows(mask: pd.Series) -> list[str]:
    return [str(i) for i in np.flatnonzero(mask.to_numpy())]


def _where(frame: pd.DataFrame, mask: pd.Series) -> str:
    bad = frame.loc[mask]
    return _show([f"{r.model}/{r.split}/patient {r.patient_id}" for r in bad.itertuples()])


def _integers(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | (values != np.round(values))
    if bad.any():
        raise StatsInputError(f"{source}: {column} must be an integer at {_where(frame, bad)}")
    return values.astype(int)


def _probabilities(frame: pd.DataFrame, source: str) -> pd.Series:
    values = pd.to_numeric(frame["probability"], errors="coerce").astype(float)
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        raise StatsInputError(
            f"{source}: probability missing or outside [0, 1] at {_where(frame, bad)}"
        )
    return values


def _labels(frame: pd.DataFrame, source: str) -> pd.Series:
    values = pd.to_numeric(frame["label"], errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        shown = _show([repr(v) for v in frame.loc[bad, "label"].unique()], 5)
        raise StatsInputError(
            f"{source}: labels must be 0 or 1; got {shown} at {_where(frame, bad)}"
        )
    labels = values.astype(int)
    conflicting = labels.groupby(frame["patient_id"]).nunique()
    conflicting = conflicting[conflicting > 1]
    if not conflicting.empty:
        raise StatsInputError(
            f"{source}: patient(s) {_show(list(conflicting.index))} have different labels in "
            "different rows; the label is the patient's outcome and must agree"
        )
    return labels


def _check_duplicates(frame: pd.DataFrame, source: str) -> None:
    repeated = frame.duplicated(["model", "split", "fold", "patient_id"], keep=False)
    if repeated.any():
        raise StatsInputError(
            f"{source}: more than one prediction for {_where(frame, repeated)} in the same fold"
        )
    single = ~frame["split"].isin(POOLED_SPLITS)
    again = frame.loc[single].duplicated(["model", "split", "patient_id"], keep=False)
    if again.any():
        raise StatsInputError(
            f"{source}: patient predicted in more than one fold of a non-CV split at "
            f"{_where(frame.loc[single], again)}"
        )


def splits_in(frame: pd.DataFrame) -> list[str]:
    """Splits present, in the conventional order (unknown names last, sorted)."""
    present = set(frame["split"])
    known = [s for s in SPLIT_ORDER if s in present]
    return known + sorted(present - set(SPLIT_ORDER))


def models_in(frame: pd.DataFrame) -> list[str]:
    """Models present, in order of first appearance."""
    return list(dict.fromkeys(frame["model"]))


@dataclass(frozen=True)
class Scores:
    """One model's scores on one split, one entry per patient, sorted by patient id."""

    model: str
    split: str
    patient_ids: np.ndarray
    y: np.ndarray
    p: np.ndarray

    @property
    def where(self) -> str:
        """'model <m>, split <s>' for messages."""
        return f"model {self.model}, split {self.split}"


def scores(frame: pd.DataFrame, model: str, split: str, both_classes: bool = True) -> Scores:
    """A model's per-patient scores on a split (mean over CV repeats in pooled splits)."""
    rows = frame.loc[(frame["model"] == model) & (frame["split"] == split)]
    if rows.empty:
        raise StatsInputError(f"model {model}, split {split}: no predictions")
    ids, inverse = np.unique(rows["patient_id"].to_numpy(dtype=str), return_inverse=True)
    counts = np.bincount(inverse)
    labels = np.zeros(ids.size, dtype=int)
    labels[inverse] = rows["label"].to_numpy(dtype=int)  # one label per patient (checked)
    result = Scores(
        model=model,
        split=split,
        patient_ids=ids,
        y=labels,
        p=np.bincount(inverse, weights=rows["probability"].to_numpy(dtype=float)) / counts,
    )
    if both_classes:
        require_both_classes(result.y, result.where)
    return result


def paired(frame: pd.DataFrame, split: str, models: list[str]) -> list[Scores]:
    """Scores of several models on exactly the same patients of a split (else an error)."""
    found = [scores(frame, m, split) for m in models]
    first = found[0]
    for other in found[1:]:
        if not np.array_equal(first.patient_ids, other.patient_ids):
            only_first = sorted(set(first.patient_ids) - set(other.patient_ids))
            only_other = sorted(set(other.patient_ids) - set(first.patient_ids))
            parts = []
            if only_other:
                parts.append(f"only model {other.model} has patient(s) {_show(only_other)}")
            if only_first:
                parts.append(f"only model {first.model} has patient(s) {_show(only_first)}")
            raise StatsInputError(
                f"split {split}: paired comparison of models {first.model} and {other.model} "
                f"needs the same patients; {'; '.join(parts)}"
            )
    return found


def fold_rows(frame: pd.DataFrame, model: str, split: str) -> dict[int, pd.DataFrame]:
    """Rows of each fold of a model on a pooled split."""
    rows = frame.loc[(frame["model"] == model) & (frame["split"] == split)]
    return {int(f): part for f, part in rows.groupby("fold", sort=True)}
