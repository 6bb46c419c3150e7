"""Cohort table (the study's Table 2): covariates by outcome, per split and per site, with tests.

Continuous covariates: mean ± SD with Welch's t-test when both outcome groups pass a
Shapiro-Wilk test (p > ``normality_alpha``), otherwise median [IQR] with the Mann-Whitney U
test. Categorical covariates: n (%) of each outcome column, Pearson's chi-squared test, or
Fisher's exact test when an expected count is below 5 (2 x 2 exactly; larger tables by a
seeded Monte Carlo over tables with the observed margins, Fisher-Freeman-Halton).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from radiopipe.stats.checks import StatsInputError, binary_labels

log = logging.getLogger(__name__)

DEFAULT_LABEL_NAMES = {0: "unfavourable", 1: "favourable"}
MAX_CATEGORICAL_LEVELS = 5
MONTE_CARLO_TABLES = 10_000


def format_p(p: float) -> str:
    """A p-value as printed in tables: '<0.001', else three decimals."""
    if p is None or not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def cohort_table(
    manifest_table: pd.DataFrame,
    covariates: Sequence[str],
    by: Sequence[str] = ("split", "site"),
    categorical: Sequence[str] = (),
    continuous: Sequence[str] = (),
    label_names: Mapping[int, str] = DEFAULT_LABEL_NAMES,
    normality_alpha: float = 0.05,
    digits: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """Covariates by outcome for the whole cohort and each value of each ``by`` column.

    Returns a long table: ``grouping, group, variable, level, kind, statistic, overall,
    <label 0 name>, <label 1 name>, missing, test, p_value, p_text``; the first rows of each
    group (``variable == "n"``) hold the patient counts.
    """
    table = _labelled(manifest_table)
    missing = [c for c in [*covariates, *by] if c not in table.columns]
    if missing:
        raise StatsInputError(
            f"cohort table: column(s) {', '.join(missing)} not in the manifest; "
            f"available: {', '.join(map(str, manifest_table.columns))}"
        )
    names = (label_names[0], label_names[1])
    rows: list[dict[str, object]] = []
    groups: list[tuple[str, str, pd.DataFrame]] = [("all", "all", table)]
    for column in by:
        for value, part in table.groupby(column, sort=True):
            if str(value) != "":
                groups.append((column, str(value), part))
    for grouping, group, part in groups:
        y = part["__label__"].to_numpy()
        head = {"grouping": grouping, "group": group}
        rows.append(
            {
                **head, "variable": "n", "level": "", "kind": "count", "statistic": "n",
                "overall": str(len(part)), names[0]: str(int((y == 0).sum())),
                names[1]: str(int((y == 1).sum())), "missing": 0, "test": "", "p_value": np.nan,
            }
        )  # fmt: skip
        for variable in covariates:
            values = part[variable]
            kind = _kind(table[variable], variable, categorical, continuous)
            describe = _continuous_rows if kind == "continuous" else _categorical_rows
            for row in describe(values, y, names, normality_alpha, digits, seed):
                rows.append({**head, "variable": variable, "kind": kind, **row})
    out = pd.DataFrame(rows)
    out["p_text"] = out["p_value"].map(format_p)
    return out


def _labelled(manifest_table: pd.DataFrame) -> pd.DataFrame:
    if "label" not in manifest_table.columns:
        raise StatsInputError("cohort table: the manifest has no 'label' column")
    raw = manifest_table["label"].astype(str).str.strip()
    unlabelled = raw.isin(["", "nan", "None"])
    if unlabelled.any():
        log.warning("cohort table: %d patient(s) without a label left out", int(unlabelled.sum()))
    table = manifest_table.loc[~unlabelled].copy()
    ids = list(table["patient_id"]) if "patient_id" in table.columns else None
    table["__label__"] = binary_labels(raw[~unlabelled].to_numpy(), "cohort table", ids)
    return table


def _numeric(values: pd.Series) -> pd.Series:
    blank = values.astype(str).str.strip().isin(["", "nan", "NaN", "None", "NA"])
    return pd.to_numeric(values.mask(blank), errors="coerce")


def _kind(
    values: pd.Series, variable: str, categorical: Sequence[str], continuous: Sequence[str]
) -> str:
    """'continuous' for numbers with more than a handful of distinct values, else categorical."""
    if variable in categorical:
        return "categorical"
    numeric = _numeric(values)
    present = values.astype(str).str.strip().replace({"nan": ""}) != ""
    all_numeric = bool(numeric[present].notna().all()) and bool(present.any())
    if variable in continuous:
        if not all_numeric:
            bad = values[present & numeric.isna()].iloc[:3].tolist()
            raise StatsInputError(f"cohort table: covariate {variable} has non-numbers {bad}")
        return "continuous"
    if all_numeric and numeric.nunique() > MAX_CATEGORICAL_LEVELS:
        return "continuous"
    return "categorical"


def _continuous_rows(
    values: pd.Series,
    y: np.ndarray,
    names: tuple[str, str],
    normality_alpha: float,
    digits: int,
    seed: int,
) -> list[dict[str, object]]:
    numeric = _numeric(values).to_numpy(dtype=float)
    present = ~np.isnan(numeric)
    groups = [numeric[present & (y == k)] for k in (0, 1)]
    normal = all(g.size >= 3 and np.ptp(g) > 0 for g in groups) and all(
        stats.shapiro(g).pvalue > normality_alpha for g in groups
    )
    fmt = _mean_sd if normal else _median_iqr
    test, p = "", np.nan
    if all(g.size >= 2 for g in groups):
        if normal:
            test, p = "Welch t-test", stats.ttest_ind(*groups, equal_var=False).pvalue
        else:
            test, p = "Mann-Whitney U", stats.mannwhitneyu(*groups).pvalue
    return [
        {
            "level": "", "statistic": "mean ± SD" if normal else "median [IQR]",
            "overall": fmt(numeric[present], digits), names[0]: fmt(groups[0], digits),
            names[1]: fmt(groups[1], digits), "missing": int((~present).sum()),
            "test": test, "p_value": float(p),
        }
    ]  # fmt: skip


def _mean_sd(values: np.ndarray, digits: int) -> str:
    if values.size == 0:
        return ""
    sd = values.std(ddof=1) if values.size > 1 else float("nan")
    return f"{values.mean():.{digits}f} ± {sd:.{digits}f}"


def _median_iqr(values: np.ndarray, digits: int) -> str:
    if values.size == 0:
        return ""
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{med:.{digits}f} [{q1:.{digits}f}–{q3:.{digits}f}]"


def _categorical_rows(
    values: pd.Series,
    y: np.ndarray,
    names: tuple[str, str],
    normality_alpha: float,
    digits: int,
    seed: int,
) -> list[dict[str, object]]:
    text = values.astype(str).str.strip()
    present = ~text.isin(["", "nan", "NaN", "None", "NA"]).to_numpy()
    levels = sorted(text[present].unique(), key=_level_key)
    counts = np.array(
        [[int(np.sum((text.to_numpy() == lev) & present & (y == k))) for k in (0, 1)]
         for lev in levels]
    ).reshape(len(levels), 2)  # fmt: skip
    test, p = _contingency_test(counts, seed)
    rows: list[dict[str, object]] = [
        {
            "level": "", "statistic": "n (%)", "overall": "", names[0]: "", names[1]: "",
            "missing": int((~present).sum()), "test": test, "p_value": p,
        }
    ]  # fmt: skip
    totals = counts.sum(axis=0)
    for level, (c0, c1) in zip(levels, counts, strict=True):
        rows.append(
            {
                "level": level, "statistic": "n (%)",
                "overall": _n_pct(c0 + c1, totals.sum(), digits),
                names[0]: _n_pct(c0, totals[0], digits), names[1]: _n_pct(c1, totals[1], digits),
                "missing": 0, "test": "", "p_value": np.nan,
            }
        )  # fmt: skip
    return rows


def _level_key(level: str) -> tuple[int, float, str]:
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def _n_pct(count: int, total: int, digits: int) -> str:
    pct = 100.0 * count / total if total else float("nan")
    return f"{count} ({pct:.{digits}f}%)"


def _contingency_test(counts: np.ndarray, seed: int) -> tuple[str, float]:
    """Pearson chi-squared, or Fisher exact when an expected count is below 5."""
    counts = counts[counts.sum(axis=1) > 0]
    if counts.shape[0] < 2 or np.any(counts.sum(axis=0) == 0):
        return "", float("nan")
    expected = stats.contingency.expected_freq(counts)
    if np.all(expected >= 5):
        return "Pearson chi-squared", float(stats.chi2_contingency(counts, correction=False)[1])
    if counts.shape == (2, 2):
        return "Fisher exact", float(stats.fisher_exact(counts).pvalue)
    method = stats.MonteCarloMethod(n_resamples=MONTE_CARLO_TABLES, rng=np.random.default_rng(seed))
    return "Fisher exact (Monte Carlo)", float(stats.fisher_exact(counts, method=method).pvalue)
