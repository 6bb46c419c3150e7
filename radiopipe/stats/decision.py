"""Decision curve analysis (Vickers & Elkin 2006), computed here and checked against the
``dcurves`` library in the tests (tests/stats/test_decision_multiplicity.py).

Net benefit at threshold probability ``t``: ``TP/N - FP/N * t / (1 - t)``, where a patient is
treated when the model's probability is ``>= t``. Each model is compared with treating
everyone (``treat_all``) and no one (``treat_none``, net benefit 0). Net interventions avoided
(per patient): ``(NB_model - NB_all) / (t / (1 - t))``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from radiopipe.stats.checks import StatsInputError, binary_labels, probabilities

DEFAULT_THRESHOLDS = tuple(np.round(np.arange(1, 100) / 100, 2))
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
    labels = binary_labels(y, where)
    grid = np.asarray(thresholds, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or np.any((grid <= 0) | (grid >= 1)):
        raise StatsInputError("decision-curve thresholds must be a non-empty list within (0, 1)")
    if not models:
        raise StatsInputError(f"{where + ': ' if where else ''}no model to assess")
    curves = {}
    for name in models:
        probs = probabilities(models[name], f"{where} {name}".strip())
        if probs.shape != labels.shape:
            raise StatsInputError(
                f"{where + ': ' if where else ''}model {name}: {probs.size} probabilities for "
                f"{labels.size} patients"
            )
        curves[str(name)] = probs
    return net_benefit_table(labels.astype(bool), curves, grid)


def net_benefit_table(
    events: np.ndarray, curves: Mapping[str, np.ndarray], grid: np.ndarray
) -> pd.DataFrame:
    """Rows of :data:`COLUMNS` for each model, then ``treat_all`` and ``treat_none``."""
    n = events.size
    prevalence = float(events.mean())
    odds = grid / (1 - grid)
    every = {"treat_all": np.ones(n), "treat_none": np.zeros(n)}
    frames, benefit = [], {}
    for name, probs in [*curves.items(), *every.items()]:
        treated = probs[None, :] >= grid[:, None]  # (thresholds, patients)
        tp = (treated & events[None, :]).sum(axis=1) / n
        fp = (treated & ~events[None, :]).sum(axis=1) / n
        benefit[name] = tp - odds * fp
        frames.append((name, tp, fp, treated.mean(axis=1)))
    rows = [
        pd.DataFrame(
            {
                "model": name,
                "threshold": grid,
                "net_benefit": benefit[name],
                "net_intervention_avoided": (benefit[name] - benefit["treat_all"]) / odds,
                "tp_rate": tp,
                "fp_rate": fp,
                "test_pos_rate": positive,
                "prevalence": prevalence,
                "n": n,
            }
        )
        for name, tp, fp, positive in frames
    ]
    return pd.concat(rows, ignore_index=True).loc[:, list(COLUMNS)]
