"""ComBat numerics: learn with neuroHarmonize, add what it lacks, apply, estimate unseen sites.

neuroHarmonize's ``harmonizationLearn`` estimates the standardisation (grand mean, covariate
effects, pooled variance, per-site location/scale) and the parametric empirical-Bayes
adjustments, with or without EB and with a reference site. It has no non-parametric EB and no
mean-only (location) mode: for those this module computes the site adjustments itself from the
standardised data, following sva::ComBat (verified against R outputs to 1e-8, see
tests/modeling/test_combat_reference.py). The non-parametric prior is evaluated in log space,
which gives R's numbers where R's product of densities does not underflow and stays finite
where it does (large sites). Learned models are applied by :func:`apply_known`, which gives
``harmonizationApply``'s numbers but also works on a subset of the training sites.

Unseen sites (:func:`estimate_site`): the new site's patients are standardised with the trained
model (grand mean, covariate effects, pooled variance) and the site's location and scale are
estimated from their own, unlabelled, features, with the same EB / parametric settings and
priors taken across this site's features. neuroHarmonize 2.5 sketches the same rule
(``harmonizationLearn(orig_model=...)``) but fails on it (a KeyError on ``ref_level``, and a
design/coefficient shape mismatch with covariates), so it is implemented here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

SITE_KEY = "SITE"  # neuroHarmonize's required site column name
_BLOCK = 512  # rows per block of the non-parametric prior (memory bound)


@dataclass(frozen=True)
class Settings:
    """How ComBat estimates site effects."""

    parametric: bool = True
    empirical_bayes: bool = True
    mean_only: bool = False
    reference_site: str | None = None


@dataclass
class Estimates:
    """A learned ComBat model (features in columns)."""

    sites: np.ndarray  # (n_sites,) site labels, sorted as neuroHarmonize sorts them
    grand_mean: np.ndarray  # (p,)
    var_pooled: np.ndarray  # (p,)
    covariate_coef: np.ndarray  # (q, p)
    gamma: np.ndarray  # (n_sites, p) location adjustments (gamma*)
    delta: np.ndarray  # (n_sites, p) scale adjustments (delta*)
    reference: int  # index of the reference site, -1 if none


def design_covariates(covariates: np.ndarray) -> np.ndarray:
    """Covariates as neuroHarmonize puts them in its design matrix (float32 precision)."""
    return np.asarray(covariates, dtype=np.float32).astype(np.float64)


def _covars_frame(sites: np.ndarray, covariates: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(
        np.asarray(covariates, dtype=np.float64),
        columns=[f"cov{i}" for i in range(covariates.shape[1])],
    )
    frame.insert(0, SITE_KEY, np.asarray(sites, dtype=object))
    return frame


def learn(
    data: np.ndarray, sites: np.ndarray, covariates: np.ndarray, settings: Settings
) -> Estimates:
    """Learn ComBat on ``data`` (patients x features) with site labels and numeric covariates."""
    from neuroHarmonize import harmonizationLearn

    sites = np.asarray(sites).astype(str)
    covars = _covars_frame(sites, covariates)
    library_eb = settings.empirical_bayes and settings.parametric and not settings.mean_only
    with warnings.catch_warnings():  # neuroHarmonize uses np.matrix internally
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        model, _ = harmonizationLearn(
            np.asarray(data, dtype=np.float64),
            covars,
            eb=library_eb,
            ref_batch=settings.reference_site,
        )
    labels = np.asarray(model["SITE_labels"]).astype(str)
    n_sites = len(labels)
    ref_level = model["info_dict"]["ref_level"]
    estimates = Estimates(
        sites=labels,
        grand_mean=np.asarray(model["stand_mean"])[:, 0].copy(),
        var_pooled=np.asarray(model["var_pooled"]).ravel().copy(),
        covariate_coef=np.asarray(model["B_hat"])[n_sites:, :].copy(),
        gamma=np.asarray(model["gamma_star"], dtype=np.float64).copy(),
        delta=np.asarray(model["delta_star"], dtype=np.float64).copy(),
        reference=-1 if ref_level is None else int(ref_level),
    )
    if not library_eb:
        gamma_hat = np.asarray(model["gamma_hat"], dtype=np.float64)
        delta_hat = np.asarray(model["delta_hat"], dtype=np.float64)
        standardized = standardize(data, covariates, estimates)
        index = site_index(sites, labels)
        for b in range(n_sites):
            rows = standardized[index == b]
            d_hat = np.ones_like(delta_hat[b]) if settings.mean_only else delta_hat[b]
            estimates.gamma[b], estimates.delta[b] = site_adjustments(
                rows, gamma_hat[b], d_hat, settings
            )
    if estimates.reference >= 0:
        estimates.gamma[estimates.reference] = 0.0
        estimates.delta[estimates.reference] = 1.0
    return estimates


def learn_single_site(data: np.ndarray, site: str, covariates: np.ndarray) -> Estimates:
    """ComBat of one training site: that site is the reference (its patients stay unchanged).

    The standardisation is what reference-batch ComBat estimates from its reference site: an
    OLS fit of the features on an intercept and the covariates, and the residual variance
    (divided by n, as sva and neuroHarmonize do). Unseen sites are then mapped onto this site by
    :func:`estimate_site`, which gives reference-batch ComBat's numbers for them (tested).
    """
    data = np.asarray(data, dtype=np.float64)
    design = np.column_stack([np.ones(len(data)), design_covariates(covariates)])
    coef, *_ = np.linalg.lstsq(design, data, rcond=None)
    residuals = data - design @ coef
    p = data.shape[1]
    return Estimates(
        sites=np.asarray([str(site)]),
        grand_mean=coef[0].copy(),
        var_pooled=(residuals**2).mean(axis=0),
        covariate_coef=coef[1:].copy(),
        gamma=np.zeros((1, p)),
        delta=np.ones((1, p)),
        reference=0,
    )


def site_index(sites: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Position of each patient's site in ``labels`` (-1 for a site not in it)."""
    lookup = {label: i for i, label in enumerate(labels)}
    return np.asarray([lookup.get(s, -1) for s in np.asarray(sites).astype(str)], dtype=int)


def standardize(data: np.ndarray, covariates: np.ndarray, est: Estimates) -> np.ndarray:
    """Data minus grand mean and covariate effects, divided by the pooled standard deviation."""
    modelled = est.grand_mean + design_covariates(covariates) @ est.covariate_coef
    return (np.asarray(data, dtype=np.float64) - modelled) / np.sqrt(est.var_pooled)


def site_adjustments(
    standardized: np.ndarray,
    gamma_hat: np.ndarray,
    delta_hat: np.ndarray,
    settings: Settings,
) -> tuple[np.ndarray, np.ndarray]:
    """gamma* and delta* of one site from its standardised rows (patients x features).

    The EB priors are taken across this site's features, as in sva::ComBat.
    """
    if not settings.empirical_bayes:
        return gamma_hat.copy(), delta_hat.copy()
    if not settings.parametric:
        return nonparametric_adjustments(standardized, gamma_hat, delta_hat)
    from neuroCombat.neuroCombat import aprior, bprior, it_sol, postmean

    gamma_bar = float(np.mean(gamma_hat))
    t2 = float(np.var(gamma_hat, ddof=1))
    if settings.mean_only:
        return postmean(gamma_hat, gamma_bar, 1, 1, t2), np.ones_like(gamma_hat)
    gamma, delta = it_sol(
        standardized.T, gamma_hat, delta_hat, gamma_bar, t2, aprior(delta_hat), bprior(delta_hat)
    )
    return np.asarray(gamma), np.asarray(delta)


def nonparametric_adjustments(
    standardized: np.ndarray, gamma_hat: np.ndarray, delta_hat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Non-parametric EB (sva's ``int.eprior``): each feature's gamma*/delta* are the other
    features' gamma-hat/delta-hat weighted by the likelihood of this feature's data under them.
    """
    x = np.asarray(standardized, dtype=np.float64).T  # features x patients
    n = x.shape[1]
    sum_x, sum_x2 = x.sum(axis=1), (x**2).sum(axis=1)
    log_norm = -0.5 * n * np.log(2 * np.pi * delta_hat)
    gamma_star = np.empty_like(gamma_hat)
    delta_star = np.empty_like(delta_hat)
    for start in range(0, len(x), _BLOCK):
        rows = slice(start, min(start + _BLOCK, len(x)))
        sum2 = (
            sum_x2[rows, None]
            - 2 * sum_x[rows, None] * gamma_hat[None, :]
            + n * gamma_hat[None, :] ** 2
        )
        log_lh = log_norm[None, :] - sum2 / (2 * delta_hat[None, :])
        block = np.arange(rows.start, rows.stop)
        log_lh[block - rows.start, block] = -np.inf  # leave the feature itself out
        weights = np.exp(log_lh - log_lh.max(axis=1, keepdims=True))
        total = weights.sum(axis=1)
        gamma_star[rows] = weights @ gamma_hat / total
        delta_star[rows] = weights @ delta_hat / total
    return gamma_star, delta_star


def neuroharmonize_model(est: Estimates) -> dict:
    """The subset of a neuroHarmonize model dict that ``harmonizationApply`` reads."""
    n_sites, p = est.gamma.shape
    b_hat = np.vstack([np.zeros((n_sites, p)), est.covariate_coef])
    return {
        "SITE_labels": est.sites.astype(object),
        "info_dict": {"ref_level": None if est.reference < 0 else est.reference},
        "smooth_model": {"perform_smoothing": False, "smooth_cols": []},
        "B_hat": b_hat,
        "stand_mean": est.grand_mean[:, None],
        "var_pooled": est.var_pooled[:, None],
        "gamma_star": est.gamma,
        "delta_star": est.delta,
    }


def apply_known(
    data: np.ndarray, sites: np.ndarray, covariates: np.ndarray, est: Estimates
) -> np.ndarray:
    """Harmonise patients of sites seen in training with the learned site effects.

    Same numbers as neuroHarmonize's ``harmonizationApply`` (tested), which cannot be called
    on a subset of the training sites (it builds its design from the sites present, so one
    patient, or one site, fails); reference-site patients are returned unchanged, as in R.
    """
    data = np.asarray(data, dtype=np.float64)
    out = data.copy()
    index = site_index(sites, est.sites)
    if (index < 0).any():
        raise ValueError("apply_known got a site that was not in training")
    for b in np.unique(index):
        if b == est.reference:
            continue
        rows = index == b
        out[rows] = apply_adjustments(data[rows], covariates[rows], est, est.gamma[b], est.delta[b])
    return out


def estimate_site(
    data: np.ndarray, covariates: np.ndarray, est: Estimates, settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """gamma* and delta* of one unseen site from its own patients' (unlabelled) features."""
    standardized = standardize(data, covariates, est)
    gamma_hat = standardized.mean(axis=0)
    delta_hat = np.ones_like(gamma_hat) if settings.mean_only else standardized.var(axis=0, ddof=1)
    return site_adjustments(standardized, gamma_hat, delta_hat, settings)


def apply_adjustments(
    data: np.ndarray, covariates: np.ndarray, est: Estimates, gamma: np.ndarray, delta: np.ndarray
) -> np.ndarray:
    """Harmonise patients of one site given that site's gamma* and delta*."""
    modelled = est.grand_mean + design_covariates(covariates) @ est.covariate_coef
    scale = np.sqrt(est.var_pooled)
    standardized = (np.asarray(data, dtype=np.float64) - modelled) / scale
    return (standardized - gamma) / np.sqrt(delta) * scale + modelled
