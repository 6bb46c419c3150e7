"""Evaluation designs: outer folds, the fits they need (units), and the Youden threshold.

(a) ``fixed_split``: the manifest's splits, as in the study. The training patients get honest
    out-of-fold predictions from repeated stratified k-fold CV of the whole pipeline
    (``split="train_oof"``, ``fold=repeat*k+j``); the final model is refitted on all training
    patients and scores them (apparent, ``split="train"``) and the test splits (``fold=-1``).
(b) ``nested_cv``: repeated stratified k-fold CV of the whole pipeline over the patients not in
    a test split (``split="cv"``); inner CV (LASSO strength, tuning, stacking) runs inside each
    outer training fold. A final model is refitted on the same patients for the artefact.

Outer folds are stratified by outcome and site (so every training fold holds every site),
falling back to outcome alone when a site-outcome group is smaller than k. The operating
threshold of each model is the maximum-Youden point of its out-of-fold predictions, frozen for
the test sets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold

from radiopipe.contracts import FOLDS_COLUMNS, OOF_SPLITS, TEST_SPLITS, Split
from radiopipe.errors import InputError
from radiopipe.stats.thresholds import youden_cut

# The one Youden implementation lives in radiopipe.stats.thresholds; this name stays for callers.
youden_threshold = youden_cut

log = logging.getLogger(__name__)

FIXED, NESTED = "fixed_split", "nested_cv"
FINAL_FOLD = -1


@dataclass(frozen=True)
class Unit:
    """One fit of the pipeline: on ``train`` patients, scoring ``test`` patients."""

    name: str
    fold: int  # repeat * n_folds + k for CV units, -1 for the final model
    repeat: int  # -1 for the final model
    train: tuple[str, ...]
    test: tuple[str, ...]
    oof_split: str | None  # split name of the held-out rows; None for the final model

    @property
    def is_final(self) -> bool:
        """True for the model refitted on all training patients."""
        return self.fold == FINAL_FOLD


def resolve_design(design: str, splits: pd.Series) -> str:
    """``auto`` becomes fixed_split when the data have training and test splits, else nested_cv."""
    has_train = (splits == Split.TRAIN).any()
    has_test = splits.isin(TEST_SPLITS).any()
    if design == "auto":
        return FIXED if has_train and has_test else NESTED
    if design == FIXED and not has_train:
        raise InputError(
            "the fixed_split design needs a manifest whose 'split' column marks training "
            "patients ('train'); use design: nested_cv for a cohort without splits"
        )
    return design


def development_patients(splits: pd.Series, design: str) -> list[str]:
    """Patients the outer CV and the final model train on (never a test split)."""
    chosen = splits == Split.TRAIN if design == FIXED else ~splits.isin(TEST_SPLITS)
    return list(splits.index[chosen])


def outer_folds(
    labels: pd.Series,
    sites: pd.Series | None,
    n_folds: int,
    n_repeats: int,
    seed: int,
    stratify_by_site: bool = True,
) -> pd.DataFrame:
    """``patient_id, repeat, fold``: the fold each patient is held out in, per repeat."""
    y = labels.to_numpy(dtype=int)
    smallest = int(np.bincount(y, minlength=2).min())
    if smallest < n_folds:
        raise InputError(
            f"{n_folds}-fold CV needs at least {n_folds} patients of each outcome; "
            f"the smaller class has {smallest} (lower cv.outer_folds)"
        )
    strata = y.astype(str)
    if stratify_by_site and sites is not None:
        combined = pd.Series(strata, index=labels.index) + "|" + sites.loc[labels.index].astype(str)
        if combined.value_counts().min() >= n_folds:
            strata = combined.to_numpy()
        else:
            log.info("outer folds stratified by outcome only: a site-outcome group is below k")
    splitter = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=n_repeats, random_state=seed)
    rows = []
    for index, (_, test) in enumerate(splitter.split(np.zeros(len(y)), strata)):
        repeat, fold = divmod(index, n_folds)
        rows += [(labels.index[i], repeat, fold) for i in test]
    table = pd.DataFrame(rows, columns=list(FOLDS_COLUMNS))
    return table.sort_values(["repeat", "fold", "patient_id"], ignore_index=True)


def plan_units(
    folds: pd.DataFrame, development: list[str], all_patients: list[str], design: str
) -> list[Unit]:
    """The CV units (one per outer fold and repeat) followed by the final model."""
    n_folds = int(folds["fold"].max()) + 1
    oof_split = (Split.TRAIN_OOF if design == FIXED else Split.CV).value
    units = []
    for (repeat, fold), held in folds.groupby(["repeat", "fold"], sort=True):
        test = tuple(held["patient_id"])
        held_set = set(test)
        train = tuple(p for p in development if p not in held_set)
        number = int(repeat) * n_folds + int(fold)
        units.append(Unit(f"fold-{number:03d}", number, int(repeat), train, test, oof_split))
    units.append(Unit("final", FINAL_FOLD, -1, tuple(development), tuple(all_patients), None))
    return units


def unit_seed(seed: int, fold: int) -> int:
    """A seed for one unit derived from the run seed (independent of execution order)."""
    return int(np.random.SeedSequence([seed, fold + 1]).generate_state(1)[0] % (2**31 - 1))


def thresholds_from_oof(predictions: pd.DataFrame) -> dict[str, float]:
    """``{model: threshold}`` from the out-of-fold rows (train_oof or cv) of every model."""
    oof = predictions[predictions["split"].isin(OOF_SPLITS)]
    return {
        str(model): youden_threshold(rows["label"].to_numpy(), rows["probability"].to_numpy())
        for model, rows in oof.groupby("model", sort=True)
    }
