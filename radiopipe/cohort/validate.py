"""Check a whole cohort and report every problem at once, each naming patient, file and problem."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radiopipe.cohort.manifest import IMAGE_PREFIX, MASK2_PREFIX, MASK_PREFIX, SPLITS, Cohort
from radiopipe.errors import InputError
from radiopipe.imaging import (
    Header,
    geometry_mismatches,
    nonfinite_counts,
    read_header,
    read_image,
)
from radiopipe.progress import progress_bar, rate_text

MIN_PATIENTS_PER_SITE = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the cohort."""

    patient_id: str
    file: str
    problem: str

    def __str__(self) -> str:
        return f"patient {self.patient_id}, file {self.file}: {self.problem}"


def validate_cohort(
    cohort: Cohort,
    mask_labels: Iterable[int] = (0, 1),
    require_labels: bool = True,
    read_masks: bool = True,
    workers: int | None = None,
    show_progress: bool = False,
    min_site_patients: int = MIN_PATIENTS_PER_SITE,
) -> list[Problem]:
    """Every problem in the cohort: table-level checks, then each patient's files.

    ``min_site_patients``: fewer patients of a site is a problem (harmonisation needs two to
    learn a site; scoring new patients with a trained model passes 1).
    """
    problems = _table_problems(cohort, require_labels, min_site_patients)
    allowed = frozenset(int(v) for v in mask_labels)
    rows = cohort.table.to_dict("records")
    workers = workers or min(8, (os.cpu_count() or 1) * 2)

    def check(row: dict) -> list[Problem]:
        return _patient_problems(row, cohort.sequences, allowed, read_masks)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(check, rows)
        if show_progress:
            with progress_bar(transient=True) as bar:
                task = bar.add_task("validating", total=len(rows), rate="", status="")
                collected = []
                for found in results:
                    collected.append(found)
                    bar.update(task, advance=1, rate=rate_text(bar, task, "patients"))
                results = collected
        for found in results:
            problems.extend(found)
    return problems


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a table (patient_id, file, problem)."""
    return pd.DataFrame([asdict(p) for p in problems], columns=["patient_id", "file", "problem"])


def _table_problems(
    cohort: Cohort, require_labels: bool, min_site_patients: int = MIN_PATIENTS_PER_SITE
) -> list[Problem]:
    table, manifest = cohort.table, str(cohort.source or "<manifest>")
    problems: list[Problem] = []
    ids = table["patient_id"]
    for pid in ids[ids == ""].index:
        problems.append(Problem(f"<row {pid + 2}>", manifest, "patient_id is empty"))
    for pid, count in ids[ids != ""].value_counts().items():
        if count > 1:
            problems.append(Problem(pid, manifest, f"duplicate patient_id ({count} rows)"))
    for _, row in table.iterrows():
        pid = row["patient_id"]
        label = row["label"]
        if label == "" and not require_labels:
            pass
        elif label not in ("0", "1"):
            shown = "missing" if label == "" else repr(label)
            problems.append(Problem(pid, manifest, f"label is {shown}; labels must be 0 or 1"))
        if row["split"] not in SPLITS:
            allowed = ", ".join(s for s in SPLITS if s) + " or empty"
            problems.append(
                Problem(pid, manifest, f"unknown split {row['split']!r}; allowed: {allowed}")
            )
        if row["site"] == "":
            problems.append(Problem(pid, manifest, "site is empty"))
    sites = table.loc[table["site"] != "", "site"].value_counts()
    for site, count in sites.items():
        if count < min_site_patients:
            for pid in table.loc[table["site"] == site, "patient_id"]:
                problems.append(
                    Problem(
                        pid, manifest,
                        f"site {site!r} has {count} patient(s); harmonisation needs at least "
                        f"{MIN_PATIENTS_PER_SITE} per site (merge it with a similar scanner "
                        "or drop it)",
                    )
                )  # fmt: skip
    return problems


def _patient_problems(
    row: dict, sequences: tuple[str, ...], allowed: frozenset[int], read_masks: bool
) -> list[Problem]:
    pid = row["patient_id"]
    problems: list[Problem] = []
    for seq in sequences:
        image_file = row.get(IMAGE_PREFIX + seq, "")
        if not image_file:
            problems.append(Problem(pid, f"<{IMAGE_PREFIX + seq}>", "no image path given"))
            continue
        image = _checked_image(pid, image_file, problems)
        for prefix in (MASK_PREFIX, MASK2_PREFIX):
            mask_file = row.get(prefix + seq, "")
            if mask_file:
                _check_mask(pid, mask_file, image, allowed, read_masks, problems)
    return problems


def _checked_image(pid: str, file: str, problems: list[Problem]) -> Header | None:
    try:
        header = read_header(file, patient=pid)
    except InputError as err:
        problems.append(Problem(pid, file, err.problem))
        return None
    shape_problem = _shape_problem(header)
    if shape_problem:
        problems.append(Problem(pid, file, shape_problem))
        return None
    if header.is_float:
        try:
            n_nan, n_inf = nonfinite_counts(file, pid)
        except InputError as err:
            problems.append(Problem(pid, file, err.problem))
            return None
        if n_nan or n_inf:
            problems.append(Problem(pid, file, f"{n_nan} NaN and {n_inf} infinite voxel(s)"))
    return header


def _check_mask(
    pid: str,
    file: str,
    image: Header | None,
    allowed: frozenset[int],
    read_voxels: bool,
    problems: list[Problem],
) -> None:
    try:
        header = read_header(file, patient=pid)
    except InputError as err:
        problems.append(Problem(pid, file, err.problem))
        return
    shape_problem = _shape_problem(header)
    if shape_problem:
        problems.append(Problem(pid, file, shape_problem))
        return
    if image is not None:
        mismatch = geometry_mismatches(header, image)
        if mismatch:
            problems.append(
                Problem(pid, file, "mask and image grids disagree: " + "; ".join(mismatch))
            )
    if not read_voxels:
        return
    try:
        voxels = _voxels(file, pid)
    except InputError as err:
        problems.append(Problem(pid, file, err.problem))
        return
    values = np.unique(voxels)
    if header.is_float and not np.all(np.isfinite(values)):
        problems.append(Problem(pid, file, "mask holds NaN or infinite values"))
        values = values[np.isfinite(values)]
    unexpected = [v for v in values.tolist() if v != int(v) or int(v) not in allowed]
    if unexpected:
        shown = ", ".join(f"{v:g}" for v in unexpected[:8])
        problems.append(
            Problem(
                pid, file,
                f"mask has unexpected label value(s) {shown}; allowed: "
                f"{', '.join(map(str, sorted(allowed)))}",
            )
        )  # fmt: skip
    foreground = sorted(v for v in allowed if v != 0)
    if not np.isin(values, foreground).any():
        problems.append(Problem(pid, file, "mask is empty (no lesion voxels)"))


def _voxels(file: str, pid: str) -> np.ndarray:
    # A copy, not a view: a view of a temporary SimpleITK image would outlive its buffer.
    return sitk.GetArrayFromImage(read_image(file, patient=pid))


def _shape_problem(header: Header) -> str | None:
    if header.components != 1:
        return f"has {header.components} components per voxel; expected a scalar volume"
    if header.dimension != 3:
        return f"is {header.dimension}-D; expected a 3-D volume"
    if min(header.size) < 2:
        return f"is not a 3-D volume (size {header.size})"
    return None
