"""Late fusion: an external model's probabilities (e.g. a CNN) as an extra meta-feature.

Off unless ``fusion.predictions`` and ``fusion.model`` are set. The external model must have
written a ``predictions.parquet`` on the same ``folds.csv`` (the deep stage reuses ours). For
each fit of the pipeline the stack receives one probability per patient:

- final model: training patients get the external model's out-of-fold probabilities
  (``train_oof`` or ``cv`` rows, averaged over repeats), test patients its ``fold=-1``
  predictions: nothing the stack sees was fitted on the patient it scores;
- a CV fold: every patient gets the external out-of-fold probability from the same repeat. The
  held-out patients' values come from external models that never saw them; the training
  patients' values come from external models that did see the held-out fold, a second-order
  leak through the meta-learner's weights, logged as a note. The final model has no such leak.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from radiopipe.contracts import OOF_SPLITS, Split, check_predictions
from radiopipe.errors import InputError
from radiopipe.modeling.validation import Unit

log = logging.getLogger(__name__)


def read_external(path: str | Path, model: str) -> pd.DataFrame:
    """The rows of ``model`` in an external predictions.parquet."""
    path = Path(path)
    if not path.is_file():
        raise InputError("late-fusion predictions file does not exist", file=path)
    table = check_predictions(pd.read_parquet(path), path)
    rows = table[table["model"] == model].copy()
    if rows.empty:
        raise InputError(
            f"no rows for model {model!r}; models present: {sorted(table['model'].unique())}",
            file=path,
        )
    rows["patient_id"] = rows["patient_id"].astype(str)
    return rows


def values_for_unit(external: pd.DataFrame, unit: Unit, n_folds: int) -> dict[str, float]:
    """``patient_id -> probability`` for every patient this unit trains on or scores."""
    oof = external[external["split"].isin(OOF_SPLITS)]
    if unit.is_final:
        values = oof.groupby("patient_id")["probability"].mean()
        final = external[
            (external["fold"] == -1) & ~external["split"].isin([*OOF_SPLITS, Split.TRAIN])
        ]
        values = pd.concat([values, final.set_index("patient_id")["probability"]])
        values = values[~values.index.duplicated(keep="first")]
    else:
        same_repeat = oof[oof["fold"] // n_folds == unit.repeat]
        values = same_repeat.groupby("patient_id")["probability"].mean()
    needed = list(dict.fromkeys([*unit.train, *unit.test]))
    missing = [p for p in needed if p not in values.index]
    if missing:
        raise InputError(
            f"late fusion: the external model has no {'out-of-fold ' if not unit.is_final else ''}"
            f"probability for patient(s) {', '.join(missing[:10])} ({unit.name}); it must be "
            "trained on the same folds.csv"
        )
    return {str(p): float(values[p]) for p in needed}
