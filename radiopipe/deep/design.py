"""The validation designs shared with the radiomics models (``radiopipe.modeling.validation``).

``fixed_split``: the manifest's splits. Out-of-fold fits over the training patients give
``train_oof`` rows (``fold = repeat * K + k``); a final network on all training patients scores
them (``train``, apparent) and the test splits (``fold = -1``).
``nested_cv``: the out-of-fold fits run over every patient outside the test splits and give
``cv`` rows; the final network is trained on the same patients (the saved model).
With the design stage's ``folds.csv`` the out-of-fold fits use exactly its folds, so every
model family is compared on identical patients; without it (a lone ``radiopipe deep train``),
a seeded stratified K-fold. The design rules themselves live in radiopipe.modeling.validation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from radiopipe.contracts import FOLDS, FOLDS_COLUMNS, TEST_SPLITS, Split, check_columns
from radiopipe.errors import RadiopipeError
from radiopipe.modeling import validation

log = logging.getLogger(__name__)

FIXED, NESTED = validation.FIXED, validation.NESTED
resolve_design = validation.resolve_design  # one implementation, shared with the models


@dataclass(frozen=True)
class Task:
    """One network to fit: its training patients and the rows it predicts."""

    name: str
    train: tuple[str, ...]
    predict: tuple[tuple[str, str, int], ...]  # (patient_id, split, fold)


def development_patients(cohort: pd.DataFrame, design: str) -> list[str]:
    """Patients the out-of-fold and final networks train on (the design's rule, shared with
    the radiomics models: :func:`radiopipe.modeling.validation.development_patients`)."""
    return validation.development_patients(cohort.set_index("patient_id")["split"], design)


def plan_tasks(
    cohort: pd.DataFrame, design: str, folds: pd.DataFrame | None, n_folds: int, seed: int
) -> list[Task]:
    """The final network first, then one task per (repeat, fold).

    ``cohort`` has ``patient_id``, ``split`` and integer ``label``; ``folds`` is a checked
    ``folds.csv`` (:func:`read_folds`) or None for a seeded K-fold of the development patients.
    """
    development = development_patients(cohort, design)
    if not development:
        raise RadiopipeError(
            "no patient to train on: the manifest has no 'train' patients (fixed_split) or "
            "only test splits (nested_cv)"
        )
    labels = cohort.set_index("patient_id")["label"]
    if folds is not None:
        development = _development_from_folds(folds, development, design)
    _check_classes(labels[development], "the training patients")
    if folds is None:
        folds = seeded_folds(labels[development], n_folds, seed)
    in_development = set(development)
    predict = [(p, Split.TRAIN.value, -1) for p in development]
    for split in TEST_SPLITS:
        rows = cohort.loc[(cohort["split"] == split) & ~cohort["patient_id"].isin(in_development)]
        predict += [(p, split, -1) for p in rows["patient_id"]]
    tasks = [Task("final", tuple(development), tuple(predict))]
    oof_split, prefix = (
        (Split.TRAIN_OOF.value, "oof") if design == FIXED else (Split.CV.value, "cv")
    )
    k_total = int(folds["fold"].max()) + 1
    for (repeat, fold), held in folds.groupby(["repeat", "fold"], sort=True):
        in_repeat = folds.loc[folds["repeat"] == repeat]
        train = in_repeat.loc[in_repeat["fold"] != fold, "patient_id"]
        code = int(repeat) * k_total + int(fold)
        rows = tuple((p, oof_split, code) for p in held["patient_id"])
        tasks.append(Task(f"{prefix}_r{int(repeat)}_f{int(fold)}", tuple(train), rows))
    return tasks


def seeded_folds(labels: pd.Series, n_folds: int, seed: int) -> pd.DataFrame:
    """A one-repeat stratified K-fold table (``folds.csv`` layout) of ``labels``' patients."""
    y = labels.to_numpy(dtype=int)
    smallest = int(np.bincount(y, minlength=2).min())
    if smallest < 2:
        raise RadiopipeError("the training patients need at least 2 of each outcome")
    splitter = StratifiedKFold(n_splits=min(n_folds, smallest), shuffle=True, random_state=seed)
    fold_of = np.empty(len(y), dtype=int)
    for k, (_, held) in enumerate(splitter.split(np.zeros(len(y)), y)):
        fold_of[held] = k
    return pd.DataFrame({"patient_id": list(labels.index), "repeat": 0, "fold": fold_of})


def _development_from_folds(folds: pd.DataFrame, eligible: list[str], design: str) -> list[str]:
    """The folds' patients, which must all be eligible training patients of the design."""
    patients = list(dict.fromkeys(folds["patient_id"]))
    outside = sorted(set(patients) - set(eligible))
    if outside:
        raise RadiopipeError(
            f"folds.csv holds {len(outside)} patient(s) that are not training patients of the "
            f"{design} design in this manifest (e.g. {', '.join(outside[:5])}); pass the design "
            "the radiomics run used (--design) and the same manifest"
        )
    left_out = sorted(set(eligible) - set(patients))
    if left_out:
        log.warning(
            "%d patient(s) are not in folds.csv and are left out as in the radiomics run: %s",
            len(left_out), ", ".join(left_out[:10]),
        )  # fmt: skip
    return patients


def read_folds(path: str | Path, patients: list[str]) -> pd.DataFrame:
    """Read and check ``folds.csv`` against the manifest's patients."""
    path = Path(path)
    if not path.is_file():
        raise RadiopipeError(f"{path}: folds file does not exist")
    try:
        folds = pd.read_csv(path, dtype={"patient_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise RadiopipeError(f"{path}: not a readable CSV ({err})") from None
    folds = check_columns(folds, FOLDS, path)[list(FOLDS_COLUMNS)]
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


def _check_classes(labels: pd.Series, what: str) -> None:
    counts = labels.value_counts()
    if len(counts) < 2:
        raise RadiopipeError(f"{what} holds only label {counts.index[0]}; need both classes")
