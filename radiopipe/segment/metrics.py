"""Segmentation agreement in millimetres: Dice, HD95, mean surface distance, volume difference.

Surface metrics come from MONAI (``compute_hausdorff_distance``,
``compute_average_surface_distance``) with the voxel spacing passed in, so they are in mm.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pandas as pd
import SimpleITK as sitk
import torch
from monai.metrics import compute_average_surface_distance, compute_dice, compute_hausdorff_distance

from radiopipe.cohort.manifest import MASK2_PREFIX, MASK_PREFIX, Cohort
from radiopipe.errors import InputError, RadiopipeError
from radiopipe.imaging import geometry_mismatches, header_of, read_image
from radiopipe.segment.geometry import voxel_volume_ml

log = logging.getLogger(__name__)

METRICS = ("dice", "hd95_mm", "msd_mm", "volume_diff_ml", "volume_diff_pct")


def _one_hot(mask: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.stack([~mask, mask]))[None].float()


def mask_agreement(
    pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, ...]
) -> dict[str, float]:
    """Dice, HD95 and symmetric mean surface distance (mm) of two boolean arrays.

    ``spacing`` is given in the arrays' axis order. Distances are NaN when a mask is empty; Dice
    is 0 when exactly one is empty and 1 when both are.
    """
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    if not pred.any() or not ref.any():
        both = not pred.any() and not ref.any()
        return {"dice": 1.0 if both else 0.0, "hd95_mm": math.nan, "msd_mm": math.nan}
    p, r = _one_hot(pred), _one_hot(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # MONAI-internal deprecation notice
        hd95 = compute_hausdorff_distance(p, r, percentile=95, spacing=list(spacing))
        msd = compute_average_surface_distance(p, r, symmetric=True, spacing=list(spacing))
    return {
        "dice": float(compute_dice(p, r, include_background=False)),
        "hd95_mm": float(hd95),
        "msd_mm": float(msd),
    }


def compare_masks(pred: sitk.Image, ref: sitk.Image, patient: str, pred_file: str) -> dict:
    """Agreement and volumes of an automatic mask with its reference on the same grid."""
    problems = geometry_mismatches(header_of(pred), header_of(ref))
    if problems:
        raise InputError(
            f"automatic and reference masks lie on different grids ({'; '.join(problems)})",
            patient=patient, file=pred_file,
        )  # fmt: skip
    p = sitk.GetArrayViewFromImage(pred) > 0
    r = sitk.GetArrayViewFromImage(ref) > 0
    voxel = voxel_volume_ml(ref)
    row = mask_agreement(p, r, tuple(reversed(ref.GetSpacing())))
    pred_ml, ref_ml = float(p.sum()) * voxel, float(r.sum()) * voxel
    row.update(
        volume_pred_ml=pred_ml,
        volume_ref_ml=ref_ml,
        volume_diff_ml=pred_ml - ref_ml,
        volume_diff_pct=100.0 * (pred_ml - ref_ml) / ref_ml if ref_ml else math.nan,
    )
    return row


def evaluate(cohort: Cohort, sequences: list[str], reference: Cohort | None = None) -> pd.DataFrame:
    """One row per patient and sequence: ``mask_<seq>`` against the reference mask.

    The reference is ``mask2_<seq>`` of the same manifest (as written by ``segment predict``)
    or, when ``reference`` is given, its ``mask_<seq>`` for the same patient.
    """
    rows = []
    for sequence in sequences:
        for patient in cohort.patients:
            row = {"patient_id": patient, "sequence": sequence, "note": ""}
            pred_path = cohort.mask_path(patient, sequence)
            ref_path = _reference_path(cohort, reference, patient, sequence)
            if pred_path is None or ref_path is None:
                row["note"] = "no automatic mask" if pred_path is None else "no reference mask"
                rows.append(row)
                continue
            pred = read_image(pred_path, patient=patient)
            ref = read_image(ref_path, patient=patient)
            row.update(compare_masks(pred, ref, patient, str(pred_path)))
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise RadiopipeError("nothing to evaluate: no patient has both masks")
    meta = cohort.table[["patient_id", "site", "split"]]
    columns = ["patient_id", "site", "split", "sequence", *METRICS, "volume_pred_ml",
               "volume_ref_ml", "note"]  # fmt: skip
    return meta.merge(frame, on="patient_id", how="right").reindex(columns=columns)


def evaluable_sequences(cohort: Cohort, reference: Cohort | None = None) -> list[str]:
    """Sequences with automatic masks and references (mask2 columns or the reference manifest)."""
    other = reference.table.columns if reference is not None else cohort.table.columns
    prefix = MASK_PREFIX if reference is not None else MASK2_PREFIX
    found = [s for s in cohort.sequences
             if MASK_PREFIX + s in cohort.table.columns and prefix + s in other]  # fmt: skip
    if not found:
        source = reference.source if reference is not None else cohort.source
        raise RadiopipeError(
            f"no sequence has both automatic masks (mask_<seq> in {cohort.source}) and reference "
            f"masks ({prefix}<seq> in {source})"
        )
    return found


def _reference_path(cohort: Cohort, reference: Cohort | None, patient: str, sequence: str):
    if reference is None:
        if MASK2_PREFIX + sequence not in cohort.table.columns:
            raise RadiopipeError(
                f"manifest {cohort.source}: no column {MASK2_PREFIX}{sequence} with reference "
                "masks; give --reference MANIFEST whose mask columns hold them"
            )
        return cohort.mask_path(patient, sequence, second=True)
    if MASK_PREFIX + sequence not in reference.table.columns:
        raise RadiopipeError(f"reference manifest {reference.source}: no column mask_{sequence}")
    if patient not in set(reference.patients):
        return None
    return reference.mask_path(patient, sequence)


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per sequence and split (and 'all'): n, mean, SD, median, IQR of every metric."""
    frames = [metrics, metrics.assign(split="all")]
    data = pd.concat(frames, ignore_index=True)
    rows = []
    for (sequence, split), group in data.groupby(["sequence", "split"], sort=True):
        evaluated = group.dropna(subset=["dice"])
        row = {"sequence": sequence, "split": split, "n": len(evaluated),
               "n_missing": len(group) - len(evaluated)}  # fmt: skip
        for metric in METRICS:
            values = evaluated[metric].dropna()
            row[f"{metric}_mean"] = values.mean() if len(values) else math.nan
            row[f"{metric}_sd"] = values.std(ddof=1) if len(values) > 1 else math.nan
            row[f"{metric}_median"] = values.median() if len(values) else math.nan
            row[f"{metric}_q1"] = values.quantile(0.25) if len(values) else math.nan
            row[f"{metric}_q3"] = values.quantile(0.75) if len(values) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
