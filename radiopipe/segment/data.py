"""Which patients train the V-Net, their seeded train/validation division, and case loading."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import SimpleITK as sitk
from monai.data import MetaTensor
from monai.transforms import MapTransform

from radiopipe.cohort.manifest import IMAGE_PREFIX, MASK_PREFIX, Cohort
from radiopipe.contracts import Split
from radiopipe.errors import InputError, RadiopipeError
from radiopipe.imaging import geometry_mismatches, header_of, read_image
from radiopipe.segment.geometry import resample_onto, to_metatensor

log = logging.getLogger(__name__)

TRAIN_SPLIT = Split.TRAIN
TRAIN_ROLE, VALIDATION_ROLE = "train", "validation"  # the V-Net division (not splits)


@dataclass(frozen=True)
class Division:
    """The seeded division of the manifest's training patients into fitting and validation."""

    train: list[str]
    validation: list[str]

    def frame(self) -> pd.DataFrame:
        """One row per patient: ``patient_id, role`` (train or validation)."""
        rows = [(p, TRAIN_ROLE) for p in self.train] + [
            (p, VALIDATION_ROLE) for p in self.validation
        ]
        return pd.DataFrame(rows, columns=["patient_id", "role"])


def training_patients(cohort: Cohort, images: list[str], masks: list[str]) -> list[str]:
    """Patients of split ``train`` that have the given images and reference masks.

    Patients of the radiomics test splits (and unsplit ones) are never used.
    """
    columns = [IMAGE_PREFIX + s for s in images] + [MASK_PREFIX + s for s in masks]
    missing_columns = [c for c in columns if c not in cohort.table.columns]
    if missing_columns:
        raise RadiopipeError(
            f"manifest {cohort.source}: training needs column(s) {', '.join(missing_columns)} "
            "(images and reference masks of the training patients)"
        )
    table = cohort.table[cohort.table["split"] == TRAIN_SPLIT]
    if table.empty:
        splits = sorted(set(cohort.table["split"]))
        raise RadiopipeError(
            f"manifest {cohort.source}: no patient has split 'train' (found {splits}); the V-Net "
            "trains only on the radiomics training split so test patients stay unseen"
        )
    has_all = np.ones(len(table), dtype=bool)
    for column in columns:
        has_all &= table[column].astype(bool).to_numpy()
    skipped = list(table.loc[~has_all, "patient_id"])
    if skipped:
        log.warning(
            "%d training patient(s) lack one of %s and are skipped: %s",
            len(skipped), ", ".join(columns), ", ".join(skipped[:20]),
        )  # fmt: skip
    kept = list(table.loc[has_all, "patient_id"])
    if len(kept) < 2:
        raise RadiopipeError(
            f"manifest {cohort.source}: {len(kept)} training patient(s) have {', '.join(columns)}; "
            "at least 2 are needed (one to fit, one to validate)"
        )
    return kept


def divide(patients: list[str], fraction: float, seed: int) -> Division:
    """Seeded division of patients into fitting and validation (at least one of each)."""
    rng = np.random.default_rng(seed)
    order = sorted(patients)
    rng.shuffle(order)
    n_val = min(max(1, round(fraction * len(order))), len(order) - 1)
    return Division(train=sorted(order[n_val:]), validation=sorted(order[:n_val]))


def case_records(
    cohort: Cohort, patients: list[str], inputs: list[str], label: str | None
) -> list[dict]:
    """MONAI data dicts: patient, image paths per input sequence, and the label mask path."""
    records = []
    for patient in patients:
        row = cohort.row(patient)
        record = {
            "patient_id": patient,
            "paths": {s: str(row[IMAGE_PREFIX + s]) for s in inputs},
        }
        if label is not None:
            record["label_path"] = str(row[MASK_PREFIX + label])
        records.append(record)
    return records


def stack_inputs(patient: str, images: dict[str, sitk.Image], inputs: list[str]) -> MetaTensor:
    """Channels in ``inputs`` order on the first input's grid (others resampled linearly)."""
    reference = images[inputs[0]]
    channels = []
    for sequence in inputs:
        image = sitk.Cast(images[sequence], sitk.sitkFloat32)
        if image.GetDimension() != 3:
            raise InputError(f"{sequence} image is not 3-D", patient=patient)
        if sequence != inputs[0] and geometry_mismatches(header_of(image), header_of(reference)):
            image = resample_onto(image, reference, linear=True)
        channels.append(to_metatensor(image))
    stacked = MetaTensor(np.concatenate([c.numpy() for c in channels]), affine=channels[0].affine)
    return stacked


def load_label(patient: str, path: str, reference: sitk.Image) -> MetaTensor:
    """A binary mask (1, x, y, z) that must share the reference image's grid."""
    mask = read_image(path, patient=patient)
    problems = geometry_mismatches(header_of(mask), header_of(reference))
    if problems:
        raise InputError(
            f"mask and image grids disagree ({'; '.join(problems)}); resample the mask onto "
            "its image (nearest neighbour) or fix the manifest",
            patient=patient,
            file=path,
        )
    binary = sitk.Cast(mask > 0, sitk.sitkUInt8)
    return to_metatensor(binary)


class LoadCased(MapTransform):
    """Read a case's images (stacked as channels) and its binary label into MetaTensors."""

    def __init__(self, inputs: list[str]) -> None:
        super().__init__(keys=["image"])
        self.inputs = list(inputs)

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        """Return the record with ``image`` and, when a label path is given, ``label``."""
        record = dict(data)
        patient = str(record["patient_id"])
        paths = record["paths"]
        images = {s: read_image(paths[s], patient=patient) for s in self.inputs}
        record["image"] = stack_inputs(patient, images, self.inputs)
        if record.get("label_path"):
            record["label"] = load_label(patient, record["label_path"], images[self.inputs[0]])
        return record
