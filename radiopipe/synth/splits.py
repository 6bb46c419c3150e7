"""Train / internal_test / external_test assignment, stratified by label within each site."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from radiopipe.contracts import Split
from radiopipe.synth.scanner import SPLIT_STREAM


def assign_splits(
    table: pd.DataFrame, external_sites: list[str], internal_test_fraction: float, seed: int
) -> pd.Series:
    """Split per patient: external sites -> external_test, others stratified train/internal_test.

    ``table`` needs ``site`` and ``label`` columns. Within each non-external site,
    round(fraction x n) patients go to ``internal_test``, shared between the labels by largest
    remainder so that both classes keep the site's ratio.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, SPLIT_STREAM]))
    split = pd.Series(Split.TRAIN.value, index=table.index, dtype=object)
    for site in pd.unique(table["site"]):
        rows = table.index[table["site"] == site]
        if site in external_sites:
            split[rows] = Split.EXTERNAL_TEST.value
            continue
        labels = table.loc[rows, "label"]
        groups = {label: rows[(labels == label).to_numpy()] for label in sorted(labels.unique())}
        counts = _largest_remainder(
            {label: len(idx) for label, idx in groups.items()},
            math.floor(internal_test_fraction * len(rows) + 0.5),
        )
        for label, idx in groups.items():
            chosen = rng.permutation(len(idx))[: counts[label]]
            split[idx[np.sort(chosen)]] = Split.INTERNAL_TEST.value
    return split


def _largest_remainder(sizes: dict[int, int], total: int) -> dict[int, int]:
    """Share ``total`` between groups in proportion to their sizes (Hamilton's method)."""
    n = sum(sizes.values())
    if n == 0 or total == 0:
        return dict.fromkeys(sizes, 0)
    quotas = {k: total * v / n for k, v in sizes.items()}
    counts = {k: math.floor(q) for k, q in quotas.items()}
    order = sorted(sizes, key=lambda k: (-(quotas[k] - counts[k]), -sizes[k], k))
    for k in order[: total - sum(counts.values())]:
        counts[k] += 1
    return counts
