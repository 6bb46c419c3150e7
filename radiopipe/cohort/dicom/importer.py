"""``radiopipe import dicom``: a PACS export -> NIfTI images, masks and a manifest.

Plan first (scan headers, check geometry, choose series and masks for every patient), list
every problem of the whole export at once, then convert. Identifying tags never leave
``scan``: outputs hold the patient id (a tag or a mapping CSV) and acquisition metadata only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from radiopipe.atomic import write_csv
from radiopipe.cohort.dicom.geometry import check_geometry
from radiopipe.cohort.dicom.masks import MaskSource, find_mask, read_mask
from radiopipe.cohort.dicom.metadata import METADATA_FIELDS
from radiopipe.cohort.dicom.rules import Candidate, choose, rejection
from radiopipe.cohort.dicom.scan import Export, SeriesInfo, scan_export
from radiopipe.cohort.dicom.volume import read_series
from radiopipe.cohort.importers import _join_clinical, _raise_if, read_clinical
from radiopipe.cohort.manifest import IMAGE_PREFIX, MASK_PREFIX, write_manifest
from radiopipe.config.dicom import DicomRules, SequenceRule
from radiopipe.errors import InputError, ManifestError
from radiopipe.imaging import write_image
from radiopipe.progress import progress_bar

log = logging.getLogger(__name__)

IMAGES_DIR = "images"
MASKS_DIR = "masks"
MANIFEST_FILE = "manifest.csv"
SERIES_FILE = "series.csv"


@dataclass
class PatientPlan:
    """What the rules chose for one patient."""

    patient_id: str
    candidates: list[Candidate]
    chosen: dict[str, Candidate] = field(default_factory=dict)
    masks: dict[str, MaskSource] = field(default_factory=dict)


@dataclass
class ImportPlan:
    """The plan for the whole export and every problem found while making it."""

    patients: list[PatientPlan]
    problems: list[str]
    skipped_files: int

    def candidates_table(self) -> pd.DataFrame:
        """One row per image series: what --dry-run prints."""
        rows = []
        for plan in self.patients:
            for c in plan.candidates:
                g = c.geometry
                mask = [
                    f"{seq}: {plan.masks[seq].info.kind.upper()} '{plan.masks[seq].label}'"
                    for seq in c.picked
                    if seq in plan.masks
                ]
                rows.append({
                    "patient_id": plan.patient_id,
                    "series": c.info.description or c.info.protocol,
                    "number": c.info.series_number,
                    "date_time": c.info.when,
                    "images": g.n_slices,
                    "orientation": g.orientation,
                    "spacing": g.spacing_text() if g.orientation not in ("", "mixed") else "",
                    "picked": ", ".join(c.picked) or "-",
                    "mask": "; ".join(mask),
                })  # fmt: skip
        return pd.DataFrame(rows)


def patient_ids(export: Export, rules: DicomRules) -> tuple[dict[str, str], list[str]]:
    """DICOM id (the chosen tag) -> patient_id, through the mapping CSV when given."""
    ids = {key: key for key in export.series}
    mapping_file = rules.patient_id.mapping
    if mapping_file is None:
        return ids, []
    if not Path(mapping_file).is_file():
        raise ManifestError(f"{mapping_file}: patient id mapping CSV does not exist")
    table = pd.read_csv(mapping_file, dtype=str, keep_default_na=False)
    if not {"dicom_id", "patient_id"} <= set(table.columns):
        raise ManifestError(f"{mapping_file}: needs columns dicom_id, patient_id")
    mapping = dict(zip(table["dicom_id"], table["patient_id"], strict=True))
    problems = [
        f"{rules.patient_id.tag} {key}: not in the id mapping {mapping_file}"
        for key in ids
        if key not in mapping
    ]
    return {k: mapping.get(k, k) for k in ids}, problems


def plan_import(root: str | Path, rules: DicomRules) -> ImportPlan:
    """Scan the export and choose series and masks for every patient; collect all problems."""
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(f"{root}: export folder does not exist")
    export = scan_export(root, rules.patient_id.tag)
    problems = [p for _, p in export.problems]
    ids, id_problems = patient_ids(export, rules)
    problems += id_problems
    if not export.series:
        problems.append(f"{root}: holds no DICOM series ({export.skipped} other files)")
    plans = []
    for key, series in export.series.items():
        pid = ids[key]
        images = [s for s in series if s.kind in ("image", "enhanced")]
        geometries = {s.series_uid: check_geometry(s.frames) for s in images}
        plan = PatientPlan(pid, [Candidate(s, geometries[s.series_uid]) for s in images])
        for seq, rule in rules.sequences.items():
            chosen, found = choose(seq, rule, plan.candidates, pid)
            problems += found
            if chosen is None:
                continue
            chosen.picked.append(seq)
            plan.chosen[seq] = chosen
            if rule.mask is not None:
                fits = _fits(rule, plan.candidates)
                mask, found = find_mask(rule.mask, chosen.info, series, pid, seq, fits)
                problems += found
                if mask is not None:
                    plan.masks[seq] = mask
        plans.append(plan)
    return ImportPlan(plans, problems, export.skipped)


def import_dicom(
    root: str | Path,
    rules: DicomRules,
    clinical: str | Path,
    out: str | Path,
    show_progress: bool = False,
) -> Path:
    """Convert the chosen series and masks to NIfTI under ``out`` and write its manifest."""
    plan = plan_import(root, rules)
    clinical_table = read_clinical(clinical)
    _raise_if(plan.problems, root)
    out = Path(out)
    rows, problems = [], []
    bar = progress_bar()
    bar.disable = not show_progress
    with bar:
        task = bar.add_task("converting", total=len(plan.patients), rate="", status="")
        for patient in plan.patients:
            try:
                rows.append(_convert_patient(patient, rules, out))
            except InputError as err:
                problems.append(str(err))
            bar.update(task, advance=1)
    _raise_if(problems, root)
    table = _join_clinical(pd.DataFrame(rows), clinical_table, clinical)
    # What was chosen from what (descriptions, times, geometry; no UIDs, no names).
    write_csv(out / SERIES_FILE, plan.candidates_table(), index=False)
    return write_manifest(table, out / MANIFEST_FILE)


def _convert_patient(plan: PatientPlan, rules: DicomRules, out: Path) -> dict[str, str]:
    row = {"patient_id": plan.patient_id}
    by_uid = {c.info.series_uid: c for c in plan.candidates}
    for seq in rules.sequences:
        chosen = plan.chosen[seq]
        rule = rules.sequences[seq]
        image = read_series(chosen.info, chosen.geometry, resample=rule.resample)
        path = write_image(image, out / IMAGES_DIR / f"{plan.patient_id}_{seq}.nii.gz")
        row[IMAGE_PREFIX + seq] = str(path.resolve())
        if seq in plan.masks:
            source = plan.masks[seq]
            reference = by_uid[source.reference.series_uid].geometry
            mask = read_mask(source, reference, image)
            path = write_image(mask, out / MASKS_DIR / f"{plan.patient_id}_{seq}.nii.gz")
            row[MASK_PREFIX + seq] = str(path.resolve())
        row.update(_metadata(seq, chosen.info))
    return row


def _fits(rule: SequenceRule, candidates: list[Candidate]) -> Callable[[SeriesInfo], bool]:
    """Whether a series fits a sequence rule (its tags, not the preference among fits)."""
    by_uid = {c.info.series_uid: c for c in candidates}

    def fits(info: SeriesInfo) -> bool:
        candidate = by_uid.get(info.series_uid)
        return candidate is not None and rejection(rule, candidate) is None

    return fits


def _metadata(seq: str, info: SeriesInfo) -> dict[str, str]:
    return {f"{seq}__{name}": info.metadata.get(name, "") for name in METADATA_FIELDS}
