"""From a manifest of images to the bundle's features: validate -> preprocess -> segment ->
extract, each with the bundle's own settings; a patient that fails a step is set aside with
the step and the reason, never scored silently.

Work goes to ``<out>/work/`` (preprocessed volumes, automatic masks, extraction cache); the
features of every extracted patient to ``<out>/features.parquet``.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from radiopipe.bundle.loader import Bundle
from radiopipe.cohort.manifest import (
    IMAGE_PREFIX,
    MASK_PREFIX,
    Cohort,
    read_manifest,
    write_manifest,
)
from radiopipe.errors import InputError

log = logging.getLogger(__name__)

WORK_DIR = "work"
NOT_SCORED_COLUMNS = ("patient_id", "step", "sequence", "reason")


@dataclass(frozen=True)
class NotScored:
    """A patient left out of scoring: at which step, for which sequence, and why."""

    patient_id: str
    step: str  # validate, preprocess, segment, segmentation_qc, extract, unseen_site
    sequence: str
    reason: str


@dataclass
class Prepared:
    """Features ready for the model, the manifest of the patients that reached them, QC."""

    features: Path
    manifest: Path | None  # None when no patient is left
    qc_flags: dict[str, str] = field(default_factory=dict)  # patient -> "seq:flag;..."
    masks: dict[str, dict[str, str]] = field(default_factory=dict)  # patient -> seq -> mask file
    images: dict[str, dict[str, str]] = field(default_factory=dict)
    not_scored: list[NotScored] = field(default_factory=list)


def not_scored_frame(rows: list[NotScored]) -> pd.DataFrame:
    """The left-out patients as a table."""
    return pd.DataFrame([asdict(r) for r in rows], columns=list(NOT_SCORED_COLUMNS))


def prepare_images(
    bundle: Bundle, manifest: str | Path, out: Path, device: str = "auto"
) -> Prepared:
    """Run every image step of the bundle on the manifest's patients."""
    cohort = read_manifest(manifest)
    missing = [IMAGE_PREFIX + s for s in bundle.sequences if IMAGE_PREFIX + s not in cohort.table]
    if missing:
        raise InputError(
            f"the bundle's model needs sequence(s) {', '.join(bundle.sequences)}, but the "
            f"manifest has no column(s) {', '.join(missing)}",
            file=manifest,
        )
    work = out / WORK_DIR
    left: list[NotScored] = []
    cohort = _validate(cohort, left)
    if cohort is not None and bundle.preprocess is not None:
        cohort = _preprocess(cohort, bundle, work / "preprocess", left)
    qc: dict[str, str] = {}
    if cohort is not None:
        cohort = _segment(cohort, bundle, work, device, qc, left)
    features = out / "features.parquet"
    if cohort is None:
        return Prepared(features, None, qc, not_scored=left)
    cohort = _extract(cohort, bundle, work, features, left)
    if cohort is None:
        return Prepared(features, None, qc, not_scored=left)
    path = write_manifest(cohort.table, work / "manifest.csv")
    scored = read_manifest(path)
    masks = {p: {s: str(scored.mask_path(p, s)) for s in bundle.sequences} for p in scored.patients}
    images = {
        p: {s: str(scored.image_path(p, s)) for s in bundle.sequences} for p in scored.patients
    }
    return Prepared(features, path, qc, masks, images, left)


def _keep(cohort: Cohort, drop: set[str]) -> Cohort | None:
    kept = [p for p in cohort.patients if p not in drop]
    return cohort.subset(patients=kept) if kept else None


def _validate(cohort: Cohort, left: list[NotScored]) -> Cohort | None:
    from radiopipe.cohort.validate import validate_cohort

    problems = validate_cohort(cohort, require_labels=False, min_site_patients=1, workers=1)
    for problem in problems:
        left.append(
            NotScored(problem.patient_id, "validate", "", f"{problem.file}: {problem.problem}")
        )
    return _keep(cohort, {p.patient_id for p in problems})


def _preprocess(cohort: Cohort, bundle: Bundle, out: Path, left: list[NotScored]) -> Cohort | None:
    from radiopipe.preprocess.stage import run_preprocess

    summary = run_preprocess(cohort, bundle.preprocess, out, workers=1)
    for failure in summary.failures:
        left.append(NotScored(failure.patient, "preprocess", failure.sequence, failure.error))
    done = read_manifest(summary.manifest)
    return done if done.patients else None


def _segment(
    cohort: Cohort, bundle: Bundle, work: Path, device: str, qc: dict[str, str],
    left: list[NotScored],
) -> Cohort | None:  # fmt: skip
    """Automatic masks where a mask is missing (bundle V-Net); QC failures are set aside."""
    table = cohort.table
    lacking = {
        p: [s for s in bundle.sequences if not str(table.loc[i].get(MASK_PREFIX + s, "") or "")]
        for i, p in zip(table.index, table["patient_id"], strict=True)
    }
    lacking = {p: seqs for p, seqs in lacking.items() if seqs}
    if not lacking:
        return cohort
    if not bundle.has_vnet:
        for patient, seqs in lacking.items():
            reason = "no mask given and the bundle has no segmentation model"
            left.append(NotScored(patient, "segment", ",".join(seqs), reason))
        return _keep(cohort, set(lacking))
    from radiopipe.bundle.vnet import materialise_vnet
    from radiopipe.config.segmentation import SegmentStageSettings
    from radiopipe.segment.stage import segment_cohort

    model = materialise_vnet(bundle.layout.segmentation, work / "vnet")
    settings = SegmentStageSettings(device=device, evaluate=False, overlays=0)
    result = segment_cohort(
        cohort.subset(patients=list(lacking)), model, work / "segment", settings
    )
    drop: set[str] = set()
    for row in result.failures.itertuples():
        left.append(NotScored(str(row.patient_id), "segment", "", str(row.error)))
        drop.add(str(row.patient_id))
    segmented = read_manifest(result.manifest).table.set_index("patient_id")
    for row in result.qc.itertuples():
        patient, seq = str(row.patient_id), str(row.sequence)
        if seq not in lacking.get(patient, []):
            continue  # a given mask is used; the automatic one is not
        if row.flags and str(row.flags) != "nan":
            flags = f"{seq}:{row.flags}"
            qc[patient] = f"{qc[patient]};{flags}" if patient in qc else flags
        if not bool(row.passed):
            left.append(
                NotScored(
                    patient, "segmentation_qc", seq, f"automatic mask failed QC ({row.flags})"
                )
            )
            drop.add(patient)
    table = table.copy()
    for i, patient in zip(table.index, table["patient_id"], strict=True):
        if patient in lacking and patient not in drop:
            for seq in lacking[patient]:
                table.loc[i, MASK_PREFIX + seq] = segmented.loc[patient, MASK_PREFIX + seq]
    return _keep(Cohort(table, cohort.sequences, cohort.source), drop)


def _extract(
    cohort: Cohort, bundle: Bundle, work: Path, features: Path, left: list[NotScored]
) -> Cohort | None:
    """pyradiomics features with the bundle's parameter file; failed tasks set aside."""
    from radiopipe.config.extraction import ExecutionSettings, ExtractionSettings
    from radiopipe.features.stage import extract_features

    settings = ExtractionSettings(
        params=bundle.layout.params, sequences=bundle.sequences, allow_failures=True,
        cache=work / "cache", execution=ExecutionSettings(workers=0),
    )  # fmt: skip
    result = extract_features(cohort, settings, work / "extract", check=False)
    if result.settings_sha256 != bundle.settings_sha256:  # another pyradiomics version
        raise InputError(
            f"features extracted here have settings hash {result.settings_sha256[:12]}, the "
            f"bundle's model was trained on {bundle.settings_sha256[:12]} (pyradiomics "
            f"{bundle.card.get('pyradiomics_version')}); install that pyradiomics version"
        )
    drop: set[str] = set()
    for row in result.failures.itertuples():
        left.append(NotScored(str(row.patient_id), "extract", str(row.sequence), str(row.error)))
        drop.add(str(row.patient_id))
    shutil.copyfile(work / "extract" / "features.parquet", features)
    return _keep(cohort, drop)
