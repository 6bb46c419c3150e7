"""Model comparisons from the predictions table: paired DeLong against a reference model per
split (Holm over the declared family of one split), and unpaired DeLong between two cohorts per
model.

The family of a split is declared before the data are seen: the pre-specified reference
against every other model that was run (or the ``compare`` list of the evaluate settings); it
is written in the ``family`` column. Apparent (resubstitution) predictions, split ``train``,
are never tested: the model has seen those patients.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from radiopipe.contracts import TEST_SPLITS, Split
from radiopipe.stats.bootstrap import DEFAULT_RESAMPLES, bootstrap_auc, percentile_ci
from radiopipe.stats.delong import delong_test, delong_test_unpaired
from radiopipe.stats.multiplicity import holm
from radiopipe.stats.predictions import models_in, paired, scores, splits_in

log = logging.getLogger(__name__)

DEFAULT_REFERENCE = "stack"
DEFAULT_UNPAIRED = (TEST_SPLITS,)


def split_seed(seed: int, split: str) -> np.random.SeedSequence:
    """The bootstrap seed of one split: shared by every model on it, stable across runs."""
    return np.random.SeedSequence([int(seed), zlib.crc32(split.encode())])


def models_on(frame: pd.DataFrame, split: str) -> list[str]:
    """Models with predictions on a split, in order of first appearance."""
    return models_in(frame.loc[frame["split"] == split])


def paired_comparisons(
    frame: pd.DataFrame,
    reference: str = DEFAULT_REFERENCE,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    compare: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every model against ``reference`` on the same patients, per split (not ``train``).

    ``difference = AUC(model) - AUC(reference)``; DeLong CI, z and p, a paired stratified
    bootstrap CI of the difference, and Holm-adjusted p over the declared family of each
    split: ``reference`` against each model of ``compare`` (None: every other model run).
    A declared model without predictions on a split still counts in its family's size.
    """
    rows: list[dict[str, object]] = []
    for split in splits_in(frame):
        if split == Split.TRAIN:  # apparent predictions: never tested
            continue
        models = models_on(frame, split)
        if reference not in models:
            log.info("split %s: no %s model, no paired comparisons", split, reference)
            continue
        declared = [m for m in (compare if compare is not None else models) if m != reference]
        others = [m for m in declared if m in models]
        absent = [m for m in declared if m not in models]
        if absent:
            log.warning(
                "split %s: declared model(s) %s have no predictions; they count in the Holm "
                "family as p = 1", split, ", ".join(absent),
            )  # fmt: skip
        if not others:
            continue
        family_name = f"{split}: {reference} vs {', '.join(declared)}"
        group = paired(frame, split, [reference, *others])
        ref = group[0]
        boot = bootstrap_auc(
            ref.y, np.vstack([s.p for s in group]), n_resamples, split_seed(seed, split)
        )
        family = []
        for i, other in enumerate(group[1:], start=1):
            test = delong_test(ref.y, other.p, ref.p, confidence, where=other.where)
            low, high = percentile_ci(boot[i] - boot[0], confidence)
            family.append(
                {
                    "comparison": "paired", "split": split, "model": other.model,
                    "reference": reference, "auc_model": test.auc_a,
                    "auc_reference": test.auc_b, "difference": test.difference,
                    "ci_low": test.ci_low, "ci_high": test.ci_high,
                    "boot_ci_low": float(low), "boot_ci_high": float(high),
                    "variance_model": test.variance_a, "variance_reference": test.variance_b,
                    "covariance": test.covariance, "statistic": test.z, "df": np.inf,
                    "p_value": test.p_value, "p_greater": test.p_greater, "p_less": test.p_less,
                    "n_model": test.n_cases + test.n_controls,
                    "n_reference": test.n_cases + test.n_controls, "family": family_name,
                }
            )  # fmt: skip
        adjusted = holm([r["p_value"] for r in family], family_size=len(declared))
        for row, p in zip(family, adjusted, strict=True):
            row["p_holm"] = float(p)
        rows.extend(family)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def unpaired_comparisons(
    frame: pd.DataFrame,
    split_pairs: Sequence[tuple[str, str]] = DEFAULT_UNPAIRED,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each model's AUC on one cohort against the same model's AUC on another (unpaired).

    ``difference = AUC(first split) - AUC(second split)``; Holm over the models of a pair.
    """
    rows: list[dict[str, object]] = []
    present = set(frame["split"])
    for first, second in split_pairs:
        if first not in present or second not in present:
            continue
        family = []
        common = [m for m in models_on(frame, first) if m in models_on(frame, second)]
        family_name = f"{first} vs {second}: each of {', '.join(common)}"
        for model in common:
            a, b = scores(frame, model, first), scores(frame, model, second)
            test = delong_test_unpaired(
                a.y, a.p, b.y, b.p, confidence, where=f"model {model}, {first} vs {second}"
            )
            family.append(
                {
                    "comparison": "unpaired", "split": f"{first} vs {second}", "model": model,
                    "reference": model, "auc_model": test.auc_a, "auc_reference": test.auc_b,
                    "difference": test.difference, "ci_low": test.ci_low,
                    "ci_high": test.ci_high, "boot_ci_low": np.nan, "boot_ci_high": np.nan,
                    "variance_model": test.variance_a, "variance_reference": test.variance_b,
                    "covariance": 0.0, "statistic": test.d, "df": test.df,
                    "p_value": test.p_value, "p_greater": test.p_greater, "p_less": test.p_less,
                    "n_model": test.n_a, "n_reference": test.n_b, "family": family_name,
                }
            )  # fmt: skip
        adjusted = holm([r["p_value"] for r in family])
        for row, p in zip(family, adjusted, strict=True):
            row["p_holm"] = float(p)
        rows.extend(family)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


COMPARISON_COLUMNS = [
    "comparison", "split", "model", "reference", "auc_model", "auc_reference", "difference",
    "ci_low", "ci_high", "boot_ci_low", "boot_ci_high", "variance_model",
    "variance_reference", "covariance", "statistic", "df", "p_value", "p_greater", "p_less",
    "p_holm", "n_model", "n_reference", "family",
]  # fmt: skip
