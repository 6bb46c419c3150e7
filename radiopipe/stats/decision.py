"""Decision curve analysis (Vickers & Elkin 2006) through the ``dcurves`` library.

Net benefit at threshold probability ``t``: ``TP/N - FP/N * t / (1 - t)``, where a patient is
treated when the model's probability is ``>= t``. Each model is compared with treating
everyone (``treat_all``) and no one (``treat_none``, net benefit 0).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from radiopipe.stats.checks import StatsInputError, binary_labels, probabilities

DEFAULT_THRESHOLDS = tuple(np.round(np.arange(1, 100) / 100, 2))
_OUTCOME = "__outcome__"
_RENAME = {"all": "treat_all", "none": "treat_none"}
COLUMNS = (
    "model", "threshold", "net_benefit", "net_intervention_avoided",
    "tp_rate", "fp_rate", "test_pos_rate", "prevalence", "n",
)  # fmt: skip


def decision_curve(
    y: npt.ArrayLike,
    models: Mapping[str, npt.ArrayLike],
    thresholds: npt.ArrayLike = DEFAULT_THRESHOLDS,
    where: str = "",
) -> pd.DataFrame:
    """Net benefit of each model, ``treat_all`` and ``treat_none`` over a threshold grid.

    ``models`` maps a model name to its predicted probabilities for the same patients as
    ``y``. Returns one row per (model, threshold) with the columns in :data:`COLUMNS`.
    """
    from dcurves import dca

    labels = binary_labels(y, where)
    grid = np.asarray(thresholds, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or np.any((grid <= 0) | (grid >= 1)):
        raise StatsInputError("decision-curve thresholds must be a non-empty list within (0, 1)")
    if not models:
        raise StatsInputError(f"{where + ': ' if where else ''}no model to assess")
    columns = {f"m{i}": name for i, name in enumerate(models)}
    data = {_OUTCOME: labels.astype(bool)}
    for column, name in columns.items():
        probs = probabilities(models[name], f"{where} {name}".strip())
        if probs.shape != labels.shape:
            raise StatsInputError(
                f"{where + ': ' if where else ''}model {name}: {probs.size} probabilities for "
                f"{labels.size} patients"
            )
        data[column] = probs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = dca(
            data=pd.DataFrame(data),
            outcome=_OUTCOME,
            modelnames=list(columns),
            thresholds=list(grid),
        )
    table["model"] = table["model"].map(lambda c: columns.get(c, _RENAME.get(c, c)))
    return table.loc[:, list(COLUMNS)].reset_index(drop=True)
