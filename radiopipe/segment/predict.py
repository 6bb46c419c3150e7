"""``segment predict``: masks for a cohort, a manifest pointing at them, a QC table, resume."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from radiopipe.atomic import write_csv, write_json
from radiopipe.cohort.manifest import IMAGE_PREFIX, MASK2_PREFIX, MASK_PREFIX, Cohort
from radiopipe.cohort.manifest import write_manifest as save_manifest
from radiopipe.errors import InputError, RadiopipeError
from radiopipe.hashing import file_sha256
from radiopipe.imaging import read_image, write_image
from radiopipe.progress import progress_bar, rate_text
from radiopipe.runs import RunFolder
from radiopipe.segment.infer import Segmenter
from radiopipe.segment.qc import qc_row
from radiopipe.torchrun.device import cpu_threads

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.csv"
QC_FILE = "qc.csv"
FAILURES_FILE = "failures.csv"
CASES_DIR = ".cases"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class PredictResult:
    """Where the outputs went and what happened."""

    manifest: Path
    qc: pd.DataFrame
    failures: pd.DataFrame
    reused: int
    model_id: str = ""  # the weights' identifier (radiopipe.segment.infer.Segmenter.model_id)
    device: str = ""


def file_stem(patient: str) -> str:
    """A file-name-safe stem for a patient ID (unsafe characters become '_')."""
    stem = _UNSAFE.sub("_", patient).lstrip(".") or "_"
    return stem


def predict(
    cohort: Cohort,
    model_dir: str | Path,
    out: str | Path,
    device: str = "auto",
    save_probabilities: bool = False,
    show_progress: bool = True,
) -> PredictResult:
    """Segment every patient of ``cohort``; finished patients of an earlier run are reused.

    A plain function: the stage engine (``radiopipe segment predict``, ``radiopipe run``)
    records its provenance and decides whether it is up to date.
    """
    segmenter = Segmenter(model_dir, device)
    missing = [
        IMAGE_PREFIX + s for s in segmenter.sequences if IMAGE_PREFIX + s not in cohort.table
    ]
    if missing:
        raise RadiopipeError(
            f"manifest {cohort.source}: the model segments {', '.join(segmenter.sequences)} but "
            f"column(s) {', '.join(missing)} are missing"
        )
    stems = [file_stem(p) for p in cohort.patients]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise RadiopipeError(f"patient IDs map to the same file name(s): {', '.join(clashes)}")
    folder = RunFolder.at(out)
    rows, failures, paths, reused = [], [], {}, 0
    with cpu_threads(segmenter.config.train.cpu_threads), progress_bar() as bar:
        task = bar.add_task("segment", total=len(stems), rate="", status="", visible=show_progress)
        for patient, stem in zip(cohort.patients, stems, strict=False):
            try:
                case_rows, was_reused = _case(
                    segmenter, cohort, patient, folder, stem, save_probabilities
                )
            except RadiopipeError as err:
                log.error("%s", err)
                failures.append({"patient_id": patient, "error": str(err)})
                case_rows, was_reused = [], False
            reused += was_reused
            for row in case_rows:
                paths[(patient, row["sequence"])] = folder.path(row.pop("mask_file"))
            rows += case_rows
            bar.update(task, advance=1, rate=rate_text(bar, task, "case"),
                       status=f"{len(failures)} failed")  # fmt: skip
    qc = _with_cohort_columns(pd.DataFrame(rows), cohort)
    failed = pd.DataFrame(failures, columns=["patient_id", "error"])
    write_csv(folder.path(QC_FILE), qc)
    write_csv(folder.path(FAILURES_FILE), failed)
    manifest = _write_manifest(cohort, segmenter.sequences, paths, folder.path(MANIFEST_FILE))
    return PredictResult(manifest, qc, failed, reused, segmenter.model_id, str(segmenter.device))


def _case(segmenter, cohort, patient, folder, stem, save_probabilities):
    """Segment one patient (or reuse a finished result with the same model and images)."""
    row = cohort.row(patient)
    empty = [s for s in segmenter.sequences if not row[IMAGE_PREFIX + s]]
    if empty:
        raise InputError(f"no {', '.join(empty)} image in the manifest", patient=patient)
    images_paths = {s: cohort.image_path(patient, s) for s in segmenter.sequences}
    record_path = folder.path(CASES_DIR, f"{stem}.json")
    hashes = {s: file_sha256(p) if p.exists() else None for s, p in images_paths.items()}
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        files_exist = all(folder.path(r["mask_file"]).is_file() for r in record["rows"])
        if (record.get("model_id") == segmenter.model_id and record.get("images") == hashes
                and files_exist):  # fmt: skip
            return record["rows"], True
    images = {s: read_image(p, patient=patient) for s, p in images_paths.items()}
    results = segmenter.segment(patient, images)
    rows = []
    for sequence, result in results.items():
        mask_file = f"masks/{stem}_{sequence}.nii.gz"
        write_image(result.mask, folder.path(mask_file))
        if save_probabilities:
            write_image(result.probability, folder.path(f"probabilities/{stem}_{sequence}.nii.gz"))
        qc = qc_row(result.mask, result.probability, result.tta_agreement, result.components,
                    segmenter.config.qc)  # fmt: skip
        rows.append({"patient_id": patient, "sequence": sequence, **qc, "mask_file": mask_file})
    write_json(record_path, {"model_id": segmenter.model_id, "images": hashes, "rows": rows})
    return [dict(r) for r in rows], False


def _with_cohort_columns(qc: pd.DataFrame, cohort: Cohort) -> pd.DataFrame:
    if qc.empty:
        return pd.DataFrame(columns=["patient_id", "site", "split", "sequence"])
    meta = cohort.table[["patient_id", "site", "split"]]
    qc = meta.merge(qc, on="patient_id", how="right")
    return qc


def _write_manifest(cohort: Cohort, sequences: list[str], paths: dict, path: Path) -> Path:
    """The input manifest with ``mask_<seq>`` = automatic masks, references moved to mask2."""
    table = cohort.table.copy()
    for sequence in sequences:
        reference = MASK_PREFIX + sequence
        if reference in table.columns:
            if MASK2_PREFIX + sequence in table.columns:
                log.warning(
                    "%s: column %s is replaced by the reference masks (%s) so that automatic and "
                    "reference masks can be compared", path, MASK2_PREFIX + sequence, reference,
                )  # fmt: skip
            table[MASK2_PREFIX + sequence] = table[reference]
        table[reference] = [
            str(paths[(p, sequence)]) if (p, sequence) in paths else "" for p in table["patient_id"]
        ]
    return save_manifest(table, path)
