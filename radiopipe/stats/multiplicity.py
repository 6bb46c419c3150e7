"""Multiplicity correction over a family of comparisons (Holm step-down, statsmodels)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from radiopipe.stats.checks import StatsInputError


def holm(p_values: npt.ArrayLike, family_size: int | None = None) -> np.ndarray:
    """Holm-adjusted p-values in the input order; NaN entries stay NaN and are not counted.

    ``family_size``: the size of the declared family when some of its comparisons could not
    be made (a declared model absent from a split); the missing ones count as p = 1, so the
    correction never shrinks with the set of models that happened to run.
    """
    from statsmodels.stats.multitest import multipletests

    values = np.asarray(p_values, dtype=float)
    if values.ndim != 1:
        raise StatsInputError(f"p-values must be one-dimensional, got shape {values.shape}")
    present = ~np.isnan(values)
    if np.any((values[present] < 0) | (values[present] > 1)):
        raise StatsInputError("p-values must lie in [0, 1]")
    adjusted = np.full(values.shape, np.nan)
    missing = 0 if family_size is None else family_size - int(present.sum())
    if missing < 0:
        raise StatsInputError(f"family of {family_size} holds {int(present.sum())} p-values")
    if present.any() and missing:
        padded = np.concatenate([values[present], np.ones(missing)])
        adjusted[present] = multipletests(padded, method="holm")[1][: int(present.sum())]
    elif present.any():
        adjusted[present] = multipletests(values[present], method="holm")[1]
    return adjusted
