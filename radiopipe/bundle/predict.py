"""``radiopipe predict --bundle``: score new patients from their images or a feature table.

Writes into ``out``: ``predictions.parquet`` (the predictions contract plus ``risk_group``,
``threshold``, ``qc_flags``, ``site``, ``unseen_site_policy``), ``not_scored.csv`` (patient,
step, sequence, reason), ``unseen_site_policy.json``, ``features.parquet`` (from images) and
``reports/<patient>.html`` / ``.pdf``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from radiopipe.atomic import write_csv, write_json, write_parquet
from radiopipe.bundle.images import WORK_DIR, NotScored, not_scored_frame, prepare_images
from radiopipe.bundle.loader import Bundle, load_bundle
from radiopipe.bundle.scoring import SCORED_MANIFEST, check_settings, score
from radiopipe.errors import InputError

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.parquet"
NOT_SCORED_FILE = "not_scored.csv"
POLICY_FILE = "unseen_site_policy.json"


@dataclass
class Scoring:
    """What ``predict`` wrote: predictions, the patients left out and why, the reports."""

    out: Path
    predictions: pd.DataFrame
    not_scored: pd.DataFrame
    policy: dict
    reports: dict[str, dict[str, Path]] = field(default_factory=dict)

    @property
    def predictions_file(self) -> Path:
        """``out/predictions.parquet``."""
        return self.out / PREDICTIONS_FILE


def predict_images(
    bundle: str | Path | Bundle,
    manifest: str | Path,
    out: str | Path,
    unseen_site: str | None = None,
    device: str = "auto",
    reports: bool = True,
    pdf: bool = True,
) -> Scoring:
    """validate -> preprocess -> segment (missing masks) -> extract -> model, all per bundle."""
    bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    _check_fusion(bundle)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prepared = prepare_images(bundle, manifest, out, device=device)
    given = _given_masks(manifest, bundle.sequences)
    if prepared.manifest is None:
        return _finish(bundle, out, pd.DataFrame(), prepared.not_scored, {})
    predictions, left, policy = score(
        bundle, prepared.features, prepared.manifest, out / WORK_DIR, unseen_site, prepared.qc_flags
    )
    result = _finish(bundle, out, predictions, prepared.not_scored + left, policy)
    if reports and not predictions.empty:
        explanation = _explain(bundle, prepared.features, out, unseen_site, predictions)
        result.reports = _reports(bundle, predictions, out, prepared.images, prepared.masks,
                                  explanation, given, pdf)  # fmt: skip
    return result


def predict_features(
    bundle: str | Path | Bundle,
    features: str | Path,
    out: str | Path,
    manifest: str | Path | None = None,
    unseen_site: str | None = None,
    allow_settings_mismatch: bool = False,
    reports: bool = True,
    pdf: bool = True,
) -> Scoring:
    """Score a feature table; its recorded settings hash must match the bundle's."""
    bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    _check_fusion(bundle)
    features, out = Path(features), Path(out)
    check_settings(bundle, features, allow_settings_mismatch)
    out.mkdir(parents=True, exist_ok=True)
    manifest = Path(manifest) if manifest is not None else None
    (out / WORK_DIR).mkdir(exist_ok=True)
    predictions, left, policy = score(bundle, features, manifest, out / WORK_DIR, unseen_site)
    result = _finish(bundle, out, predictions, left, policy)
    if reports and not predictions.empty:
        explanation = _explain(bundle, features, out, unseen_site, predictions)
        result.reports = _reports(bundle, predictions, out, None, None, explanation, None, pdf)
    return result


def _finish(
    bundle: Bundle, out: Path, predictions: pd.DataFrame, left: list[NotScored], policy: dict
) -> Scoring:
    not_scored = not_scored_frame(left)
    write_csv(out / NOT_SCORED_FILE, not_scored)
    write_json(out / POLICY_FILE, policy)
    if predictions.empty:
        from radiopipe.bundle.scoring import EXTRA_COLUMNS
        from radiopipe.contracts import PREDICTIONS_COLUMNS

        predictions = pd.DataFrame(columns=[*PREDICTIONS_COLUMNS, *EXTRA_COLUMNS])
    write_parquet(out / PREDICTIONS_FILE, predictions)
    for row in not_scored.itertuples():
        log.warning("patient %s not scored (%s): %s", row.patient_id, row.step, row.reason)
    return Scoring(out, predictions, not_scored, policy)


def _check_fusion(bundle: Bundle) -> None:
    fused = bundle.card.get("fusion_model")
    if fused:
        raise InputError(
            f"this bundle's model fuses {fused!r} (deep model) probabilities, which the bundle "
            "cannot compute; score with `radiopipe predict --model ... --fusion ...` instead"
        )


def _given_masks(manifest: str | Path, sequences: list[str]) -> dict[str, list[str]]:
    """The sequences whose mask each patient's manifest row gives."""
    from radiopipe.cohort.manifest import read_manifest

    cohort = read_manifest(manifest)
    return {
        p: [s for s in sequences if cohort.mask_path(p, s) is not None] for p in cohort.patients
    }


def _explain(bundle: Bundle, features: Path, out: Path, unseen_site: str | None, predictions):
    """SHAP values of the reference model for the scored patients (None on failure)."""
    from radiopipe.bundle.explain import explain_patients
    from radiopipe.modeling.columns import meta_columns
    from radiopipe.modeling.predicting import set_unseen_site
    from radiopipe.modeling.tables import load_model_data

    card = bundle.model.card
    scored = out / WORK_DIR / SCORED_MANIFEST
    try:
        set_unseen_site(bundle.model, unseen_site)
        data = load_model_data(
            features, scored if scored.is_file() else None, card["covariates"],
            require_labels=False, batch=card.get("batch", "site"),
        )  # fmt: skip
        patients = sorted(set(predictions["patient_id"]))
        X = data.X.loc[patients, bundle.model.features + meta_columns(data.X)]
        frame = pd.DataFrame(
            {"split": data.splits.loc[patients], "label": data.labels.loc[patients]}
        )
        return explain_patients(bundle, X, frame)
    except Exception as err:  # the report still shows the prediction
        log.warning("SHAP waterfall skipped: %s", err)
        return None


def _reports(bundle, predictions, out, images, masks, explanation, given, pdf):
    from radiopipe.bundle.report import write_reports
    from radiopipe.report.render import PdfUnavailable

    try:
        return write_reports(bundle, predictions, out, images, masks, explanation, given, pdf)
    except PdfUnavailable as err:
        log.warning("%s; writing HTML reports only", err)
        return write_reports(bundle, predictions, out, images, masks, explanation, given, False)
