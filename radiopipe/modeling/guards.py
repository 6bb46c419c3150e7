"""Checks made before any model is fitted: a covariate must not carry the outcome, and every
unseen site must be scorable under the unseen-site policy.

Both fail at once, naming the covariate or the site, instead of after hours of fitting (an
unseen site too small to estimate its scanner effect used to fail only when the final model
scored it) or, worse, silently (a covariate derived from the outcome passed to ComBat would
"harmonise" the label into every feature).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from radiopipe.errors import ConfigError
from radiopipe.modeling.columns import covariate_column

if TYPE_CHECKING:
    from radiopipe.config.model import ModelConfig
    from radiopipe.modeling.tables import ModelData

MAX_COVARIATE_AUC = 0.95


def covariate_auc(values: pd.Series, labels: pd.Series) -> float:
    """How well ``values`` alone separate the outcome: max(AUC, 1 - AUC) over known values.

    Numeric values are ranked as they are; other values (categories) are ranked by their
    outcome rate in these patients, the most separating recoding there is, so a category that
    equals the label under any renaming scores 1.
    """
    known = values.notna() & labels.notna()
    y = labels[known].astype(int).to_numpy()
    if known.sum() < 2 or len(np.unique(y)) < 2:
        return 0.5
    x = values[known]
    numeric = pd.to_numeric(x, errors="coerce")
    if numeric.notna().all():
        score = numeric.to_numpy(float)
    else:
        rates = pd.Series(y, index=x.index).groupby(x.astype(str)).mean()
        score = x.astype(str).map(rates).to_numpy(float)
    auc = float(roc_auc_score(y, score))
    return max(auc, 1.0 - auc)


def check_covariates(
    table: pd.DataFrame, labels: pd.Series, names: Iterable[str], role: str
) -> None:
    """Refuse any covariate that (nearly) equals the outcome in the training patients.

    ``table``: the covariate columns of the training patients (by name); ``role``: the
    setting that named them, e.g. ``harmonise.covariates``, for the message.
    """
    leaks = []
    for name in names:
        auc = covariate_auc(table[name], labels.loc[table.index])
        if auc > MAX_COVARIATE_AUC:
            leaks.append(f"{name!r} (training-set AUC {auc:.3f})")
    if leaks:
        raise ConfigError(
            f"{role}: {', '.join(leaks)} separate(s) the outcome almost perfectly "
            f"(AUC > {MAX_COVARIATE_AUC}): a covariate derived from the outcome would leak it "
            "into every prediction; remove it from the settings"
        )


def check_unseen_sites(
    sites: pd.Series, development: Iterable[str], policy: str, min_site_size: int
) -> None:
    """Every site without training patients can be scored under ``policy``.

    ``sites``: site per patient (all patients the run scores); ``development``: the training
    patients. Under ``estimate`` an unseen site's scanner effect is estimated from its own
    patients, scored together, so it needs at least ``min_site_size`` of them; under
    ``error`` an unseen site is refused; ``passthrough`` scores any site unadjusted.
    """
    development = set(development)
    seen = set(sites.loc[sites.index.isin(development)])
    unseen = sites[~sites.index.isin(development) & ~sites.isin(seen)].value_counts()
    if unseen.empty or policy == "passthrough":
        return
    if policy == "error":
        listed = ", ".join(f"{site!r} ({n} patients)" for site, n in unseen.items())
        raise ConfigError(
            f"harmonise.unseen_site is 'error' but site(s) {listed} have no training patients; "
            "choose 'estimate' (ComBat estimates the site's effect from its own unlabelled "
            "patients) or 'passthrough' (the site is left unadjusted)"
        )
    small = unseen[unseen < min_site_size]
    if len(small):
        listed = ", ".join(f"{site!r} has {n}" for site, n in small.items())
        raise ConfigError(
            f"harmonise.unseen_site is 'estimate', which needs at least {min_site_size} "
            f"patients of an unseen site scored together, but {listed}; choose "
            "harmonise.unseen_site: passthrough (leave the site unadjusted), lower "
            "harmonise.min_site_size, or harmonise.method: none"
        )


def check_before_fitting(data: ModelData, development: list[str], config: ModelConfig) -> None:
    """The checks above on a training run's data, before its first fit."""
    harmonise = config.harmonise
    if harmonise.method != "combat" or not data.has_sites:
        return
    if data.covariates:
        columns = {covariate_column(name): name for name in data.covariates}
        table = data.X.loc[development, list(columns)].rename(columns=columns)
        check_covariates(table, data.labels, data.covariates, "harmonise.covariates")
    check_unseen_sites(data.sites, development, harmonise.unseen_site, harmonise.min_site_size)
