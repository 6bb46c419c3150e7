"""Multiplicity correction over a family of comparisons (Holm step-down, statsmodels)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from radiopipe.stats.checks import StatsInputError


def holm(p_values: npt.ArrayLike) -> np.ndarray:
    """Holm-adjusted p-values in the input order; NaN entries stay NaN and are not counted."""
    from statsmodels.stats.multitest import multipletests

    values = np.asarray(p_values, dtype=float)
    if values.ndim != 1:
        raise StatsInputError(f"p-values must be one-dimensional, got shape {values.shape}")
    present = ~np.isnan(values)
    if np.any((values[present] < 0) | (values[present] > 1)):
        raise StatsInputError("p-values must lie in [0, 1]")
    adjusted = np.full(values.shape, np.nan)
    if present.any():
        adjusted[present] = multipletests(values[present], method="holm")[1]
    return adjusted
