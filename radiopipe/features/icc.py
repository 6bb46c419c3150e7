"""ICC(2,1): two-way random effects, absolute agreement, single rater, for many features at once.

The same mean squares, coefficient and F-based 95 % interval as pingouin's
``intraclass_corr`` ("ICC(A,1)" / ICC2; McGraw & Wong 1996, case 2A), vectorised over
features so that thousands of features take milliseconds instead of minutes. The tests
check every number against pingouin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ICC_COLUMNS = ["icc", "ci95_low", "ci95_high", "f", "df1", "df2", "pval", "n_patients", "n_raters"]


def icc2_1(ratings: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """ICC(2,1) per feature of ``ratings`` shaped (patients, raters, features).

    Patients with a missing rating of a feature are left out of that feature (listwise, as
    pingouin does). Features with no between-patient variance get NaN.
    """
    ratings = np.asarray(ratings, dtype=np.float64)
    if ratings.ndim == 2:
        ratings = ratings[:, :, None]
    if ratings.ndim != 3 or ratings.shape[1] < 2:
        raise ValueError(f"ratings must be (patients, raters >= 2, features); got {ratings.shape}")
    n_features = ratings.shape[2]
    out = {name: np.full(n_features, np.nan) for name in ICC_COLUMNS}
    complete = np.isfinite(ratings).all(axis=1)  # (patients, features)
    full = complete.all(axis=0)
    if full.any():
        _fill(out, np.flatnonzero(full), ratings[:, :, full], alpha)
    for j in np.flatnonzero(~full):
        rows = complete[:, j]
        if rows.sum() >= 2:
            _fill(out, np.array([j]), ratings[rows][:, :, [j]], alpha)
        else:
            out["n_patients"][j] = rows.sum()
            out["n_raters"][j] = ratings.shape[1]
    frame = pd.DataFrame(out)
    for column in ("df1", "n_patients", "n_raters"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _fill(out: dict[str, np.ndarray], where: np.ndarray, x: np.ndarray, alpha: float) -> None:
    from scipy.stats import f as f_dist  # scipy.stats takes seconds to import: not at start-up

    n, k, _ = x.shape
    # ICC is invariant to a common shift and scale: standardise each feature for stability.
    centre = x.mean(axis=(0, 1))
    scale = x.std(axis=(0, 1))
    scale[scale == 0] = 1.0
    x = (x - centre) / scale
    grand = x.mean(axis=(0, 1))
    row_means = x.mean(axis=1)  # (n, F)
    col_means = x.mean(axis=0)  # (k, F)
    ss_rows = k * ((row_means - grand) ** 2).sum(axis=0)
    ss_cols = n * ((col_means - grand) ** 2).sum(axis=0)
    ss_total = ((x - grand) ** 2).sum(axis=(0, 1))
    ss_error = np.maximum(ss_total - ss_rows - ss_cols, 0.0)
    df1, df_cols, df2 = n - 1, k - 1, (n - 1) * (k - 1)
    msb, msj, mse = ss_rows / df1, ss_cols / df_cols, ss_error / df2
    with np.errstate(divide="ignore", invalid="ignore"):
        icc = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
        f_value = msb / mse
        pval = f_dist.sf(f_value, df1, df2)
        # Confidence interval of ICC(A,1) (McGraw & Wong 1996; as in pingouin and R psych).
        fj = msj / mse
        vn = df2 * (k * icc * fj + n * (1 + (k - 1) * icc) - k * icc) ** 2
        vd = df1 * k**2 * icc**2 * fj**2 + (n * (1 + (k - 1) * icc) - k * icc) ** 2
        v = vn / vd
        f_upper = f_dist.ppf(1 - alpha / 2, df1, v)
        f_lower = f_dist.ppf(1 - alpha / 2, v, df1)
        low = n * (msb - f_upper * mse) / (f_upper * (k * msj + (k * n - k - n) * mse) + n * msb)
        high = n * (f_lower * msb - mse) / (k * msj + (k * n - k - n) * mse + n * f_lower * msb)
    no_variance = msb + msj + mse == 0
    for name, values in (
        ("icc", icc), ("ci95_low", low), ("ci95_high", high), ("f", f_value), ("pval", pval),
    ):  # fmt: skip
        values = np.where(no_variance, np.nan, values)
        out[name][where] = values
    out["df1"][where] = df1
    out["df2"][where] = df2
    out["n_patients"][where] = n
    out["n_raters"][where] = k
