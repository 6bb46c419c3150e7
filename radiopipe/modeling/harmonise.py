"""ComBat harmonisation as a pipeline step that consumes the site and covariate meta columns.

Input: a DataFrame of features plus ``meta__site`` and ``meta__<covariate>`` columns (see
:mod:`radiopipe.modeling.columns`). Output: the harmonised features only; the meta columns stop
here, so SMOTE and everything after it work on features alone and can never invent a site.
The model is learned in ``fit`` on the training fold only (never transductively on test data).

Patients of sites seen in training are harmonised with the learned site effects. Patients of
an unseen site follow ``unseen_site``:

- ``"estimate"`` (default): the site's location and scale are estimated from its own,
  unlabelled features against the trained model (:func:`radiopipe.modeling.combat.estimate_site`);
  this needs at least ``min_site_size`` patients of that site in the data being transformed,
  else an error names the site and its patients (score the site's patients together);
- ``"passthrough"``: the site's features are left as they are (with a warning);
- ``"error"``: any unseen site is an error.

Covariates are biological variables to preserve (age, ...); never the outcome. A non-numeric
covariate is one-hot encoded with the levels seen in training. A missing covariate value gets
the training mean of its design column, which equals applying the average covariate effect
(R neuroCombatFromTraining's behaviour for patients without covariates).
"""

from __future__ import annotations

import contextlib
import io
import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from radiopipe.errors import InputError
from radiopipe.modeling import combat
from radiopipe.modeling.columns import SITE_COLUMN, covariate_column, split_meta

log = logging.getLogger(__name__)

UNSEEN_SITE_RULES = ("estimate", "passthrough", "error")


class ComBatHarmoniser(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Remove site (scanner) effects with ComBat; learned on the training fold only."""

    def __init__(
        self,
        covariates: tuple[str, ...] = (),
        parametric: bool = True,
        empirical_bayes: bool = True,
        mean_only: bool = False,
        reference_site: str | None = None,
        unseen_site: str = "estimate",
        min_site_size: int = 10,
    ) -> None:
        self.covariates = covariates
        self.parametric = parametric
        self.empirical_bayes = empirical_bayes
        self.mean_only = mean_only
        self.reference_site = reference_site
        self.unseen_site = unseen_site
        self.min_site_size = min_site_size

    def _settings(self) -> combat.Settings:
        ref = None if self.reference_site is None else str(self.reference_site)
        return combat.Settings(self.parametric, self.empirical_bayes, self.mean_only, ref)

    def fit(self, X: pd.DataFrame, y: object = None) -> ComBatHarmoniser:
        """Learn grand mean, covariate effects, pooled variance and per-site adjustments."""
        if self.unseen_site not in UNSEEN_SITE_RULES:
            raise ValueError(f"unseen_site must be one of {UNSEEN_SITE_RULES}")
        features, sites, raw_covariates = self._parts(X)
        self.feature_names_in_ = np.asarray(features.columns, dtype=object)
        self.n_features_in_ = features.shape[1]
        self.covariate_levels_ = {
            name: _levels(raw_covariates[name]) for name in raw_covariates.columns
        }
        design = self._design(raw_covariates)
        self.covariate_means_ = np.nanmean(design, axis=0) if design.shape[1] else np.zeros(0)
        design = _fill(design, self.covariate_means_, X.index, "training")
        sites_seen, counts = np.unique(sites, return_counts=True)
        small = sites_seen[counts < 2]
        if len(small):
            raise InputError(
                f"site(s) {', '.join(small)} have a single training patient; ComBat needs at "
                "least 2 per site (merge small sites or switch harmonisation off)"
            )
        if self.reference_site is not None and str(self.reference_site) not in sites_seen:
            raise InputError(f"reference site {self.reference_site!r} is not among {sites_seen}")
        data = features.to_numpy(dtype=np.float64)
        self.harmonized_ = _identifiable(data, sites, design)
        if not self.harmonized_.all():
            log.warning(
                "ComBat: %d feature(s) fully explained by site/covariates are left unchanged",
                (~self.harmonized_).sum(),
            )
        if len(sites_seen) == 1:
            log.warning(
                "ComBat: the training data hold one site (%s); it is the reference (left "
                "unchanged) and other sites are mapped onto it by the unseen_site rule (%s)",
                sites_seen[0], self.unseen_site,
            )  # fmt: skip
            est = combat.learn_single_site(data[:, self.harmonized_], sites_seen[0], design)
        else:
            with contextlib.redirect_stdout(io.StringIO()):  # neuroHarmonize prints progress
                est = combat.learn(data[:, self.harmonized_], sites, design, self._settings())
        self.sites_ = est.sites
        self.site_counts_ = counts
        self.grand_mean_, self.var_pooled_ = est.grand_mean, est.var_pooled
        self.covariate_coef_, self.gamma_, self.delta_ = est.covariate_coef, est.gamma, est.delta
        self.reference_index_ = est.reference
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Harmonised features (meta columns dropped)."""
        check_is_fitted(self, "sites_")
        features, sites, raw_covariates = self._parts(X)
        missing = [c for c in self.feature_names_in_ if c not in features.columns]
        if missing:
            raise ValueError(f"{len(missing)} feature(s) seen in fit are missing: {missing[:5]}")
        features = features[list(self.feature_names_in_)]
        design = _fill(self._design(raw_covariates), self.covariate_means_, X.index, "new")
        data = features.to_numpy(dtype=np.float64)
        est = self._estimates()
        cols = self.harmonized_
        known = np.isin(sites, self.sites_)
        if known.all() and cols.all():  # the common case, without fancy-index copies
            out = combat.apply_known(data, sites, design, est)
            return pd.DataFrame(out, index=features.index, columns=features.columns)
        out = data.copy()
        if known.any():
            block = combat.apply_known(data[known][:, cols], sites[known], design[known], est)
            out[np.ix_(known, cols)] = block
        for site in np.unique(sites[~known]):
            rows = sites == site
            adjusted = self._unseen(site, data[rows][:, cols], design[rows], X.index[rows], est)
            out[np.ix_(rows, cols)] = adjusted
        return pd.DataFrame(out, index=features.index, columns=features.columns)

    def _unseen(
        self, site: str, data: np.ndarray, design: np.ndarray, patients: pd.Index, est
    ) -> np.ndarray:
        names = ", ".join(map(str, patients[:10])) + (" ..." if len(patients) > 10 else "")
        if self.unseen_site == "error":
            raise InputError(
                f"site {site!r} (patients {names}) was not in the training data; set "
                "harmonise.unseen_site to 'estimate' or 'passthrough' to score it"
            )
        if self.unseen_site == "passthrough":
            log.warning("ComBat: unseen site %r left unharmonised (%d patients)", site, len(data))
            return data
        if len(data) < self.min_site_size:
            raise InputError(
                f"site {site!r} was not in the training data and has {len(data)} patient(s) "
                f"({names}); estimating its scanner effect needs at least {self.min_site_size} "
                "patients of the site scored together (or set harmonise.unseen_site: passthrough)"
            )
        log.info("ComBat: estimating unseen site %r from its %d patients", site, len(data))
        gamma, delta = combat.estimate_site(data, design, est, self._settings())
        return combat.apply_adjustments(data, design, est, gamma, delta)

    def _estimates(self) -> combat.Estimates:
        return combat.Estimates(
            sites=self.sites_,
            grand_mean=self.grand_mean_,
            var_pooled=self.var_pooled_,
            covariate_coef=self.covariate_coef_,
            gamma=self.gamma_,
            delta=self.delta_,
            reference=self.reference_index_,
        )

    def _parts(self, X: object) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
        if not isinstance(X, pd.DataFrame) or SITE_COLUMN not in X.columns:
            raise ValueError(
                f"ComBat needs each patient's site: pass a DataFrame with a {SITE_COLUMN!r} column"
            )
        features, meta = split_meta(X)
        sites = meta[SITE_COLUMN]
        blank = sites.isna() | (sites.astype(str).str.strip() == "")
        if blank.any():
            raise InputError(f"no site for patient(s) {', '.join(map(str, X.index[blank][:10]))}")
        columns = [covariate_column(c) for c in self.covariates]
        absent = [c for c in columns if c not in meta.columns]
        if absent:
            raise ValueError(f"covariate column(s) {absent} missing from the data")
        covariates = meta[columns].copy()
        covariates.columns = list(self.covariates)
        return features, sites.astype(str).to_numpy(), covariates

    def _design(self, raw: pd.DataFrame) -> np.ndarray:
        """Numeric design columns for the covariates (one-hot for categorical ones)."""
        blocks = []
        for name in raw.columns:
            levels = self.covariate_levels_[name]
            if not levels:
                blocks.append(pd.to_numeric(raw[name], errors="coerce").to_numpy(float)[:, None])
                continue
            values = np.asarray([_level(v) for v in raw[name]], dtype=object)
            onehot = np.zeros((len(values), len(levels) - 1))
            for j, level in enumerate(levels[1:]):
                onehot[:, j] = values == level
            onehot[~np.isin(values, levels)] = np.nan  # missing or unseen level
            blocks.append(onehot)
        return np.hstack(blocks) if blocks else np.zeros((len(raw), 0))


class DropMeta(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """The harmonisation slot when harmonisation is off: drop the meta columns, nothing else."""

    def fit(self, X: object, y: object = None) -> DropMeta:
        """Remember the input width."""
        validate_data(self, split_meta(X)[0], dtype=np.float64)
        return self

    def transform(self, X: object) -> object:
        """The features without meta columns."""
        check_is_fitted(self, "n_features_in_")
        features = split_meta(X)[0]
        array = validate_data(self, features, reset=False, dtype=np.float64)
        return features if isinstance(features, pd.DataFrame) else array


def _levels(values: pd.Series) -> list[str]:
    """Sorted levels of a categorical covariate; empty for a numeric one."""
    present = [v for v in (_level(x) for x in values) if v is not None]
    if pd.to_numeric(pd.Series(present, dtype=object), errors="coerce").notna().all():
        return []
    return sorted(set(present))


def _fill(design: np.ndarray, means: np.ndarray, patients: pd.Index, which: str) -> np.ndarray:
    """Missing covariate values replaced by the training means of their design columns."""
    gaps = np.isnan(design)
    if not gaps.any():
        return design
    rows = np.flatnonzero(gaps.any(axis=1))
    log.warning(
        "ComBat: missing covariate value(s) for %s patient(s) %s; using the training mean",
        which,
        ", ".join(map(str, patients[rows[:10]])),
    )
    return np.where(gaps, means[None, :], design)


def _identifiable(data: np.ndarray, sites: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Features with residual variance left after regressing on site and covariates."""
    onehot = (sites[:, None] == np.unique(sites)[None, :]).astype(float)
    full = np.hstack([onehot, design])
    coef, *_ = np.linalg.lstsq(full, data, rcond=None)
    residual = np.var(data - full @ coef, axis=0)
    scale = np.maximum(np.var(data, axis=0), np.finfo(float).tiny)
    return residual > 1e-12 * scale


def _level(value: object) -> str | None:
    """A categorical covariate value as text (None when missing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None
