"""The study design, decided once: fixed_split or nested_cv, the outer folds, the reference model.

The design stage writes ``design/design.json`` and ``design/folds.csv`` from the manifest and
the model settings; train, deep and late fusion read them, so every model family is fitted
and compared on identical patients. Nothing downstream resolves the design again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field

from radiopipe.atomic import write_csv, write_json
from radiopipe.config.core import StrictModel
from radiopipe.errors import InputError
from radiopipe.modeling.validation import (
    development_patients,
    outer_folds,
    resolve_design,
)

DESIGN_FILE, FOLDS_FILE = "design.json", "folds.csv"
FOLDS_COLUMNS = ("patient_id", "repeat", "fold")


class DesignSettings(StrictModel):
    """What decides the design: the model settings' design, outer CV and seed."""

    design: Literal["auto", "fixed_split", "nested_cv"] = "auto"
    outer_folds: int = Field(5, ge=2)
    outer_repeats: int = Field(1, ge=1)
    stratify_by_site: bool = True
    seed: int = 42
    reference: str = "stack"

    @classmethod
    def of(cls, config, reference: str = "stack") -> DesignSettings:
        """The design settings of a ``ModelConfig``; ``reference`` is the evaluate settings'
        pre-specified reference model (``evaluate.reference``), fixed here before any fit."""
        cv = config.cv
        return cls(
            design=config.design, outer_folds=cv.outer_folds, outer_repeats=cv.outer_repeats,
            stratify_by_site=cv.stratify_by_site, seed=config.seed, reference=reference,
        )  # fmt: skip


@dataclass(frozen=True)
class Design:
    """The resolved design (``design.json``); the folds are in ``folds.csv``."""

    design: str  # fixed_split or nested_cv
    folds: int
    repeats: int
    seed: int
    stratify_by_site: bool
    reference: str
    n_development: int


def make_design(
    labels: pd.Series, sites: pd.Series | None, splits: pd.Series, settings: DesignSettings
) -> tuple[Design, pd.DataFrame]:
    """Resolve the design and draw the outer folds of its development patients.

    ``labels`` (0/1, nullable), ``sites`` (or None) and ``splits`` are indexed by patient in
    the manifest's order, which fixes the fold assignment for a seed.
    """
    design = resolve_design(settings.design, splits)
    development = development_patients(splits, design)
    missing = labels.loc[development].isna()
    if missing.any():
        raise InputError(
            f"no outcome label for training patient(s) {', '.join(missing.index[missing][:10])}"
        )
    folds = outer_folds(
        labels.loc[development].astype(int), sites, settings.outer_folds,
        settings.outer_repeats, settings.seed, settings.stratify_by_site,
    )  # fmt: skip
    resolved = Design(
        design, settings.outer_folds, settings.outer_repeats, settings.seed,
        settings.stratify_by_site, settings.reference, len(development),
    )  # fmt: skip
    return resolved, folds


def design_from_manifest(
    manifest: str | Path, settings: DesignSettings
) -> tuple[Design, pd.DataFrame]:
    """The design of a cohort manifest (labels, sites and splits as ``train`` reads them)."""
    from radiopipe.cohort.manifest import read_manifest
    from radiopipe.modeling.tables import _as_labels

    table = read_manifest(manifest).table.set_index("patient_id")
    labels = _as_labels(table["label"], table.index, manifest, required=False)
    sites = table["site"].astype(str)
    return make_design(labels, sites, table["split"].astype(str), settings)


def write_design(folder: str | Path, design: Design, folds: pd.DataFrame) -> dict[str, Path]:
    """Write ``design.json`` and ``folds.csv``; return them by name."""
    folder = Path(folder)
    return {
        "design": write_json(folder / DESIGN_FILE, asdict(design)),
        "folds": write_csv(folder / FOLDS_FILE, folds),
    }


def read_design(path: str | Path) -> tuple[Design, pd.DataFrame]:
    """Read a design folder (or its ``design.json``) and its ``folds.csv``."""
    path = Path(path)
    folder = path.parent if path.is_file() else path
    file = folder / DESIGN_FILE
    if not file.is_file():
        raise InputError("design file does not exist (run `radiopipe design`)", file=file)
    design = Design(**json.loads(file.read_text(encoding="utf-8")))
    folds = pd.read_csv(folder / FOLDS_FILE, dtype={"patient_id": str})
    missing = [c for c in FOLDS_COLUMNS if c not in folds.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=folder / FOLDS_FILE)
    return design, folds[list(FOLDS_COLUMNS)]
