"""Score patients with a bundle's model: the unseen-site policy decided per site up front, then
the predictions contract plus ``risk_group`` (at the frozen threshold), ``qc_flags``, the site
and the unseen-site policy each patient was scored under.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.atomic import read_parquet_metadata
from radiopipe.bundle.images import NotScored
from radiopipe.bundle.loader import Bundle
from radiopipe.cohort.manifest import read_manifest, write_manifest
from radiopipe.errors import InputError
from radiopipe.features.assemble import META_SETTINGS_HASH

log = logging.getLogger(__name__)

HIGH, LOW = "high", "low"
SEEN_SITE = "seen site"
NOT_HARMONISED = "not harmonised (no ComBat)"
SCORED_MANIFEST = "manifest_scored.csv"  # the patients scored, in the work folder
EXTRA_COLUMNS = ("risk_group", "threshold", "qc_flags", "site", "unseen_site_policy")


class SettingsMismatchError(InputError):
    """A feature table made with other extraction settings than the bundle's model."""


def check_settings(bundle: Bundle, features: Path, allow_mismatch: bool) -> str | None:
    """The table's recorded settings hash must equal the bundle's; returns the table's hash."""
    recorded = read_parquet_metadata(features).get(META_SETTINGS_HASH) if features.name.endswith(
        ".parquet"
    ) else None  # fmt: skip
    if recorded == bundle.settings_sha256:
        return recorded
    what = (
        "records no settings hash (not written by `radiopipe extract`)"
        if recorded is None
        else f"was extracted with settings hash {recorded[:12]}"
    )
    message = (
        f"the feature table {what}; the bundle's model needs features made with its own "
        f"pyradiomics parameters (hash {bundle.settings_sha256[:12]}, file "
        f"{bundle.layout.params}). Extract with that file, score the images directly "
        "(--manifest without --features), or pass --allow-settings-mismatch to score anyway"
    )
    if not allow_mismatch:
        raise SettingsMismatchError(message, file=features)
    log.warning("scoring despite a settings mismatch (--allow-settings-mismatch): %s", message)
    return recorded


def unseen_site_rule(bundle: Bundle, override: str | None) -> tuple[str | None, int]:
    """The rule for sites without training patients, and the patients estimate needs."""
    trained = bundle.card.get("unseen_site") or {}
    rule = override or trained.get("rule")
    return rule, int(trained.get("min_site_size") or 0)


def scorable_sites(
    bundle: Bundle, manifest: Path, override: str | None
) -> tuple[list[str], list[NotScored]]:
    """Patients whose site can be scored under the rule; the others with the reason."""
    cohort = read_manifest(manifest)
    rule, minimum = unseen_site_rule(bundle, override)
    if rule is None or not bundle.card.get("has_sites"):
        return cohort.patients, []
    sites = cohort.table.set_index("patient_id")["site"].astype(str)
    unseen = sites[~sites.isin(bundle.card["training_sites"])]
    left = []
    for site, patients in unseen.groupby(unseen).groups.items():
        n = len(patients)
        if rule == "error":
            reason = (f"site {site!r} has no training patients and the unseen-site rule is "
                      "'error'; pass --unseen-site estimate or passthrough")  # fmt: skip
        elif rule == "estimate" and n < minimum:
            reason = (
                f"site {site!r} has no training patients; 'estimate' needs at least {minimum} "
                f"of its patients scored together, {n} given; score more of them together or "
                "pass --unseen-site passthrough (features left unharmonised)"
            )
        else:
            continue
        left += [NotScored(str(p), "unseen_site", "", reason) for p in patients]
    drop = {r.patient_id for r in left}
    return [p for p in cohort.patients if p not in drop], left


def score(
    bundle: Bundle,
    features: Path,
    manifest: Path | None,
    work: Path,
    unseen_site: str | None = None,
    qc_flags: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, list[NotScored], dict]:
    """Predictions of every model of the bundle; patients it cannot score, with the reason."""
    from radiopipe.modeling.predicting import predict_cohort

    left: list[NotScored] = []
    (work / SCORED_MANIFEST).unlink(missing_ok=True)  # an earlier call's, into the same folder
    if manifest is not None:
        kept, left = scorable_sites(bundle, manifest, unseen_site)
        if not kept:
            return pd.DataFrame(), left, {}
        cohort = read_manifest(manifest)
        manifest = write_manifest(cohort.subset(patients=kept), work / SCORED_MANIFEST)
    predictions = predict_cohort(bundle.model.folder, features, manifest, unseen_site=unseen_site)
    policy = predictions.attrs.get("unseen_site", {})
    sites = (
        read_manifest(manifest).table.set_index("patient_id")["site"].astype(str)
        if manifest is not None
        else pd.Series(dtype=str)
    )
    out = predictions.copy()
    out["threshold"] = out["model"].map(bundle.thresholds).astype(np.float64)
    high = out["probability"] >= out["threshold"]
    out["risk_group"] = np.where(out["threshold"].isna(), "", np.where(high, HIGH, LOW))
    out["qc_flags"] = out["patient_id"].map(qc_flags or {}).fillna("").astype(str)
    out["site"] = out["patient_id"].map(sites).fillna("").astype(str)
    seen = out["site"].isin(bundle.card.get("training_sites", []))
    rule = str(policy.get("used") or NOT_HARMONISED)
    out["unseen_site_policy"] = np.where(seen | (out["site"] == ""), SEEN_SITE, rule)
    out.attrs = {}
    return out, left, policy
