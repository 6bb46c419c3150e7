"""Feature filters fitted on training data only: ICC robustness, t-test, Pearson redundancy."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from radiopipe.contracts import ICC, check_icc
from radiopipe.errors import InputError
from radiopipe.modeling.base import FeatureFilter

log = logging.getLogger(__name__)

ICC_COLUMNS = ICC.required


def read_icc_table(path: str | Path) -> pd.Series:
    """The robustness stage's ``icc.parquet`` as a Series ``feature -> icc``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("ICC table does not exist (run the robustness stage first)", file=path)
    try:
        table = pd.read_parquet(path)
    except Exception as err:
        raise InputError(f"not a readable Parquet ICC table ({err})", file=path) from None
    check_icc(table, path)
    duplicated = table["feature"][table["feature"].duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"ICC table lists feature(s) twice: {', '.join(duplicated[:5])}", file=path
        )
    return pd.to_numeric(table.set_index("feature")["icc"], errors="coerce")


class ICCFilter(FeatureFilter):
    """Keep features whose inter-segmentation ICC is at least ``threshold``.

    ``table`` is the robustness stage's ``icc.parquet`` (columns ``feature``, ``icc``, ...),
    keyed by the full features-table column name. Without a table the filter keeps every
    feature and logs a note. Features absent from the table are dropped (``missing="drop"``)
    or kept (``"keep"``). The ICC involves no outcome, so reading it is leakage-free.
    """

    def __init__(
        self, table: str | None = None, threshold: float = 0.8, missing: str = "drop"
    ) -> None:
        self.table = table
        self.threshold = threshold
        self.missing = missing

    def _support(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        if self.missing not in ("drop", "keep"):
            raise ValueError(f"missing must be 'drop' or 'keep', got {self.missing!r}")
        n = X.shape[1]
        if self.table is None:
            log.debug("ICC filter: no ICC table given, all %d features kept", n)
            self.icc_ = np.full(n, np.nan)
            return np.ones(n, dtype=bool)
        if not hasattr(self, "feature_names_in_"):
            raise ValueError("the ICC filter needs named features (a DataFrame)")
        icc = read_icc_table(self.table).reindex(self.feature_names_in_)
        self.icc_ = icc.to_numpy(dtype=np.float64)
        known = ~np.isnan(self.icc_)
        if not known.any():
            raise InputError(
                f"none of the {n} features appear in the ICC table; its 'feature' column must "
                f"hold the full feature names (e.g. {self.feature_names_in_[0]!r})",
                file=self.table,
            )
        if not known.all():
            log.warning(
                "ICC filter: %d of %d features have no ICC; %s",
                (~known).sum(),
                n,
                "dropped" if self.missing == "drop" else "kept",
            )
        keep = known & (self.icc_ >= self.threshold)
        if self.missing == "keep":
            keep |= ~known
        return keep


class TTestFilter(FeatureFilter):
    """Keep features whose two-sample t-test p-value (optionally FDR-adjusted) is <= ``alpha``.

    Welch's test by default (``equal_var=False``). If fewer than ``min_features`` pass, the
    ``min_features`` features with the smallest p-values are kept and a note is logged.
    """

    requires_y = True

    def __init__(
        self, alpha: float = 0.05, fdr: bool = False, equal_var: bool = False, min_features: int = 2
    ) -> None:
        self.alpha = alpha
        self.fdr = fdr
        self.equal_var = equal_var
        self.min_features = min_features

    def _support(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            result = stats.ttest_ind(X[y == 1], X[y == 0], axis=0, equal_var=self.equal_var)
        pvalues = np.nan_to_num(np.asarray(result.pvalue, dtype=np.float64), nan=1.0)
        self.pvalues_ = pvalues
        self.scores_ = np.nan_to_num(np.abs(np.asarray(result.statistic, dtype=np.float64)))
        tested = stats.false_discovery_control(pvalues, method="bh") if self.fdr else pvalues
        keep = tested <= self.alpha
        return _at_least(keep, pvalues, self.min_features, "t-test")


class PearsonFilter(FeatureFilter):
    """Of each pair of features with |r| above ``threshold``, keep the one more associated
    with the outcome (larger |point-biserial r|), greedily from the most associated down.

    ``method="spearman"`` uses rank correlations for both the pairs and the association.
    """

    requires_y = True

    def __init__(self, threshold: float = 0.8, method: str = "pearson") -> None:
        self.threshold = threshold
        self.method = method

    def _support(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        if self.method not in ("pearson", "spearman"):
            raise ValueError(f"method must be 'pearson' or 'spearman', got {self.method!r}")
        data = stats.rankdata(X, axis=0) if self.method == "spearman" else X
        n_features = data.shape[1]
        if n_features == 1:
            self.relevance_ = np.ones(1)
            return np.ones(1, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            both = np.corrcoef(np.column_stack([data, y]), rowvar=False)
        both = np.nan_to_num(np.abs(both))
        self.relevance_ = both[:n_features, n_features]
        pairwise = both[:n_features, :n_features]
        order = np.argsort(-self.relevance_, kind="stable")
        kept: list[int] = []
        for j in order:
            if not kept or pairwise[j, kept].max() <= self.threshold:
                kept.append(int(j))
        keep = np.zeros(n_features, dtype=bool)
        keep[kept] = True
        return keep


def _at_least(keep: np.ndarray, pvalues: np.ndarray, minimum: int, name: str) -> np.ndarray:
    """``keep``, topped up with the smallest p-values when fewer than ``minimum`` pass."""
    minimum = min(minimum, len(keep))
    if keep.sum() >= minimum:
        return keep
    log.info("%s filter: %d feature(s) passed, keeping the %d best", name, keep.sum(), minimum)
    keep = keep.copy()
    keep[np.argsort(pvalues, kind="stable")[:minimum]] = True
    return keep
