"""The validation designs shared with the radiomics models: fixed splits or outer CV folds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from radiopipe.errors import RadiopipeError

FOLDS_COLUMNS = ("patient_id", "repeat", "fold")
TEST_SPLITS = ("internal_test", "external_test")


@dataclass(frozen=True)
class Task:
    """One network to fit: its training patients and the rows it predicts."""

    name: str
    train: tuple[str, ...]
    predict: tuple[tuple[str, str, int], ...]  # (patient_id, split, fold)


def fixed_design(cohort: pd.DataFrame, n_folds: int, seed: int) -> list[Task]:
    """Final model on all training patients plus an inner CV for ``train_oof`` rows.

    ``cohort`` has ``patient_id``, ``split`` and integer ``label``.
    """
    train = cohort.loc[cohort["split"] == "train"]
    if train.empty:
        raise RadiopipeError(
            "no patient has split 'train'; give the manifest train/test splits or pass --folds "
            "(the folds.csv of a radiomics cross-validation run)"
        )
    _check_classes(train, "the training split")
    predict = [(p, "train", -1) for p in train["patient_id"]]
    for split in TEST_SPLITS:
        predict += [(p, split, -1) for p in cohort.loc[cohort["split"] == split, "patient_id"]]
    tasks = [Task("final", tuple(train["patient_id"]), tuple(predict))]
    ids, y = train["patient_id"].to_numpy(), train["label"].to_numpy()
    folds = StratifiedKFold(n_splits=_n_splits(y, n_folds), shuffle=True, random_state=seed)
    for k, (fit_idx, held_idx) in enumerate(folds.split(ids, y)):
        held = tuple((p, "train_oof", k) for p in ids[held_idx])
        tasks.append(Task(f"oof_f{k}", tuple(ids[fit_idx]), held))
    return tasks


def cv_design(folds: pd.DataFrame) -> list[Task]:
    """One task per (repeat, fold) of ``folds.csv``; held-out rows get ``fold = r * K + k``."""
    n_folds = int(folds["fold"].max()) + 1
    tasks = []
    for (repeat, fold), held in folds.groupby(["repeat", "fold"], sort=True):
        in_repeat = folds.loc[folds["repeat"] == repeat]
        train = in_repeat.loc[in_repeat["fold"] != fold, "patient_id"]
        code = int(repeat) * n_folds + int(fold)
        rows = tuple((p, "cv", code) for p in held["patient_id"])
        tasks.append(Task(f"cv_r{int(repeat)}_f{int(fold)}", tuple(train), rows))
    return tasks


def read_folds(path: str | Path, patients: list[str]) -> pd.DataFrame:
    """Read and check ``folds.csv`` against the manifest's patients."""
    path = Path(path)
    if not path.is_file():
        raise RadiopipeError(f"{path}: folds file does not exist")
    try:
        folds = pd.read_csv(path, dtype={"patient_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise RadiopipeError(f"{path}: not a readable CSV ({err})") from None
    missing = [c for c in FOLDS_COLUMNS if c not in folds.columns]
    if missing:
        raise RadiopipeError(
            f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(FOLDS_COLUMNS)}"
        )
    folds = folds[list(FOLDS_COLUMNS)]
    if folds[["repeat", "fold"]].isna().any().any():
        raise RadiopipeError(f"{path}: empty repeat or fold values")
    folds = folds.astype({"repeat": int, "fold": int})
    unknown = sorted(set(folds["patient_id"]) - set(patients))
    if unknown:
        raise RadiopipeError(
            f"{path}: {len(unknown)} patient(s) are not in the manifest: {', '.join(unknown[:10])}"
        )
    twice = folds.duplicated(["patient_id", "repeat"])
    if twice.any():
        first = folds.loc[twice].iloc[0]
        raise RadiopipeError(
            f"{path}: patient {first['patient_id']} appears twice in repeat {first['repeat']}"
        )
    n_folds = folds["fold"].nunique()
    for repeat, group in folds.groupby("repeat"):
        if sorted(group["fold"].unique()) != list(range(n_folds)):
            raise RadiopipeError(
                f"{path}: repeat {repeat} has folds {sorted(group['fold'].unique())}; every repeat "
                f"must number its folds 0..{n_folds - 1}"
            )
        if set(group["patient_id"]) != set(folds["patient_id"]):
            raise RadiopipeError(f"{path}: repeat {repeat} does not hold every patient once")
    if sorted(folds["repeat"].unique()) != list(range(folds["repeat"].nunique())):
        raise RadiopipeError(f"{path}: repeats must be numbered 0, 1, 2, ...")
    return folds.reset_index(drop=True)


def _n_splits(y: np.ndarray, wanted: int) -> int:
    smallest = int(np.bincount(y, minlength=2).min())
    if smallest < 2:
        raise RadiopipeError("the training split needs at least 2 patients of each class")
    return min(wanted, smallest)


def _check_classes(frame: pd.DataFrame, what: str) -> None:
    counts = frame["label"].value_counts()
    if len(counts) < 2:
        raise RadiopipeError(f"{what} holds only label {counts.index[0]}; need both classes")
