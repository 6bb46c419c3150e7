"""The clinical model: logistic regression on manifest covariates, selected inside the fold.

A :class:`CovariateCoder` turns the raw covariates into numeric columns (numeric ones as they
are, categorical ones one-hot against a reference level; missing values get the training
median or most frequent level). :func:`fit_clinical` selects covariates on the training
patients it is given (univariable likelihood-ratio p < alpha, an L1 fit, or all) and fits the
multivariable model (statsmodels ``Logit``); :func:`odds_ratio_table` gives the odds ratios
with 95% CIs and p-values the report shows.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from radiopipe.config.model import ClinicalSettings
from radiopipe.errors import ConfigError

log = logging.getLogger(__name__)

INTERCEPT = "(intercept)"
TABLE_COLUMNS = (
    "covariate",
    "term",
    "level",
    "coefficient",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "covariate_p",
    "n",
    "selected",
)


@dataclass
class CovariateCoder:
    """Raw covariates -> numeric design columns; learned on training patients only."""

    covariates: list[str]
    categorical: list[str] = field(default_factory=list)
    reference_levels: dict[str, str] = field(default_factory=dict)
    levels_: dict[str, list[str]] = field(default_factory=dict)  # reference level first
    fill_: dict[str, object] = field(default_factory=dict)

    def fit(self, raw: pd.DataFrame) -> CovariateCoder:
        """Levels, reference levels and fill values from the training patients."""
        for name in self.covariates:
            values = raw[name]
            numeric = pd.to_numeric(values, errors="coerce")
            if name in self.categorical or numeric.isna().sum() > values.isna().sum():
                present = sorted({level_text(v) for v in values if level_text(v) is not None})
                if not present:
                    raise ConfigError(f"clinical covariate {name!r} has no values in training")
                ref = self.reference_levels.get(name, present[0])
                if str(ref) not in present:
                    raise ConfigError(
                        f"clinical.reference_levels: {name}={ref!r} is not among its levels "
                        f"{present}"
                    )
                self.levels_[name] = [str(ref)] + [v for v in present if v != str(ref)]
                counts = pd.Series([level_text(v) for v in values]).value_counts()
                self.fill_[name] = str(counts.index[0])
            elif numeric.notna().any():
                self.fill_[name] = float(np.nanmedian(numeric.to_numpy(float)))
            else:
                raise ConfigError(f"clinical covariate {name!r} has no values in training")
        return self

    def is_categorical(self, name: str) -> bool:
        """True for a one-hot coded covariate."""
        return name in self.levels_

    def columns(self, name: str) -> list[str]:
        """The design columns of one covariate."""
        if name in self.levels_:
            return [f"{name}[{level}]" for level in self.levels_[name][1:]]
        return [name]

    def transform(self, raw: pd.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
        """Numeric design columns of ``names`` (default: every covariate)."""
        blocks = {}
        for name in names if names is not None else self.covariates:
            if name in self.levels_:
                values = [level_text(v) for v in raw[name]]
                unseen = sorted(
                    {v for v in values if v is not None and v not in self.levels_[name]}
                )
                if unseen:
                    log.warning(
                        "clinical covariate %s: level(s) %s not seen in training; coded as "
                        "the reference level %s",
                        name,
                        unseen,
                        self.levels_[name][0],
                    )
                values = [self.fill_[name] if v is None else v for v in values]
                for level in self.levels_[name][1:]:
                    blocks[f"{name}[{level}]"] = np.asarray([v == level for v in values], float)
            else:
                numeric = pd.to_numeric(raw[name], errors="coerce").to_numpy(float)
                blocks[name] = np.where(np.isnan(numeric), self.fill_[name], numeric)
        return pd.DataFrame(blocks, index=raw.index, dtype=np.float64)


@dataclass
class LogitFit:
    """A fitted logistic regression: coefficients (intercept first), SEs, p-values."""

    params: pd.Series
    bse: pd.Series
    pvalues: pd.Series
    llf: float
    converged: bool

    def linear_predictor(self, design: pd.DataFrame) -> np.ndarray:
        """Intercept + design @ coefficients."""
        terms = [t for t in self.params.index if t != INTERCEPT]
        values = design[terms].to_numpy(float) @ self.params[terms].to_numpy(float)
        return float(self.params[INTERCEPT]) + values

    def probability(self, design: pd.DataFrame) -> np.ndarray:
        """P(label = 1)."""
        return expit(self.linear_predictor(design))


def fit_logit(design: pd.DataFrame, y: np.ndarray) -> LogitFit:
    """Maximum-likelihood logistic regression (statsmodels); a tiny ridge on separation."""
    import statsmodels.api as sm

    X = sm.add_constant(design.to_numpy(float), has_constant="add")
    names = [INTERCEPT, *design.columns]
    y = np.asarray(y, dtype=float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sm.Logit(y, X).fit(disp=0, maxiter=200, method="newton")
        params, bse, p = result.params, result.bse, result.pvalues
        ok = bool(result.mle_retvals.get("converged", True)) and np.all(np.isfinite(bse))
        if ok and np.all(np.abs(params) < 50):
            return LogitFit(
                *(pd.Series(v, index=names) for v in (params, bse, p)), float(result.llf), True
            )
    except Exception as err:  # singular design, perfect separation
        log.info("clinical logit: maximum likelihood failed (%s); ridge fit instead", err)
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=100.0, max_iter=5000).fit(X[:, 1:], y.astype(int))
    params = np.concatenate([model.intercept_, model.coef_.ravel()])
    nan = pd.Series(np.nan, index=names)
    prob = np.clip(expit(X @ params), 1e-12, 1 - 1e-12)
    llf = float(np.sum(y * np.log(prob) + (1 - y) * np.log1p(-prob)))
    return LogitFit(pd.Series(params, index=names), nan, nan.copy(), llf, False)


@dataclass
class ClinicalModel:
    """Selected covariates and their multivariable logistic regression."""

    coder: CovariateCoder
    selected: list[str]
    fit: LogitFit
    univariable: pd.DataFrame  # odds-ratio table of every covariate alone
    covariate_p: dict[str, float]

    @property
    def columns(self) -> list[str]:
        """Design columns of the selected covariates."""
        return [c for name in self.selected for c in self.coder.columns(name)]

    def design(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Design columns of the selected covariates."""
        return self.coder.transform(raw, self.selected)

    def probability(self, raw: pd.DataFrame) -> np.ndarray:
        """P(label = 1) from the covariates."""
        return self.fit.probability(self.design(raw))

    def multivariable(self) -> pd.DataFrame:
        """Odds-ratio table of the multivariable model."""
        n = int(self.univariable["n"].iloc[0]) if len(self.univariable) else None
        return odds_ratio_table(self.fit, self.coder, self.selected, self.covariate_p, n)


def univariable_p(design: pd.DataFrame, y: np.ndarray, coder: CovariateCoder) -> dict:
    """Likelihood-ratio p of each covariate alone (all its columns together) and its fit."""
    from scipy.stats import chi2

    null = fit_logit(design.iloc[:, :0], y)
    out = {}
    for name in coder.covariates:
        fit = fit_logit(design[coder.columns(name)], y)
        if not coder.columns(name):  # a single level in these patients: no information
            out[name] = (1.0, fit)
            continue
        statistic = max(2.0 * (fit.llf - null.llf), 0.0)
        out[name] = (float(chi2.sf(statistic, len(coder.columns(name)))), fit)
    return out


def fit_clinical(
    raw: pd.DataFrame, y: np.ndarray, settings: ClinicalSettings, seed: int = 0
) -> ClinicalModel:
    """Select covariates on these (training) patients and fit the multivariable model."""
    coder = CovariateCoder(
        list(settings.covariates), list(settings.categorical), dict(settings.reference_levels)
    ).fit(raw)
    design = coder.transform(raw)
    y = np.asarray(y, dtype=int)
    single = univariable_p(design, y, coder)
    p = {name: value for name, (value, _) in single.items()}
    if settings.selection == "none":
        selected = list(coder.covariates)
    elif settings.selection == "penalised":
        selected = _penalised(design, y, coder, seed)
    else:
        selected = [name for name in coder.covariates if p[name] < settings.alpha]
    if not selected:
        best = min(p, key=p.get)
        log.info("clinical: no covariate passed selection; keeping the strongest, %s", best)
        selected = [best]
    columns = [c for name in selected for c in coder.columns(name)]
    fit = fit_logit(design[columns], y)
    tables = [
        odds_ratio_table(f, coder, [name], {name: p[name]}, len(y), name in selected)
        for name, (_, f) in single.items()
    ]
    shown = [t for t in tables if not t.empty] or tables[:1]  # a one-level covariate: no row
    return ClinicalModel(coder, selected, fit, pd.concat(shown, ignore_index=True), p)


def _penalised(design: pd.DataFrame, y: np.ndarray, coder: CovariateCoder, seed: int) -> list:
    """Covariates with a non-zero coefficient in an L1 logistic regression (CV strength)."""
    from radiopipe.modeling.lasso import LassoLogisticClassifier

    scaled = (design - design.mean()) / design.std(ddof=0).replace(0.0, 1.0)
    folds = int(min(5, np.bincount(y).min()))
    model = LassoLogisticClassifier(n_strengths=20, inner_folds=max(folds, 2), random_state=seed)
    coef = dict(zip(design.columns, model.fit(scaled.to_numpy(), y).coef_, strict=True))
    return [n for n in coder.covariates if any(coef[c] != 0 for c in coder.columns(n))]


def odds_ratio_table(
    fit: LogitFit,
    coder: CovariateCoder,
    names: list[str],
    covariate_p: dict[str, float],
    n: int | None = None,
    selected: bool = True,
) -> pd.DataFrame:
    """One row per design column: coefficient, odds ratio with Wald 95% CI, p-value."""
    rows = []
    for name in names:
        for column in coder.columns(name):
            beta, se = float(fit.params[column]), float(fit.bse[column])
            level = column[len(name) + 1 : -1] if coder.is_categorical(name) else ""
            if level:
                level = f"{level} vs {coder.levels_[name][0]}"
            rows.append(
                {
                    "covariate": name,
                    "term": column,
                    "level": level,
                    "coefficient": beta,
                    "odds_ratio": np.exp(beta),
                    "ci_low": np.exp(beta - 1.959964 * se),
                    "ci_high": np.exp(beta + 1.959964 * se),
                    "p_value": float(fit.pvalues[column]),
                    "covariate_p": covariate_p.get(name, np.nan),
                    "n": n,
                    "selected": selected,
                }
            )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def level_text(value: object) -> str | None:
    """A categorical value as text (None when missing); 2.0 and 2 are the same level."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None
