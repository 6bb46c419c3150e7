"""The segmentation stage of a study run: trained model + cohort -> masks, manifest, QC, scores.

``segment_cohort`` is what ``radiopipe run`` calls when segmentation is configured and a
trained model exists. Output folder layout (see DEVELOPERS.md, "Segmentation")::

    masks/<patient>_<seq>.nii.gz     automatic masks, each on its image's original grid
    manifest.csv                     input manifest; mask_<seq> = automatic, mask2_<seq> = reference
    qc.csv, failures.csv             per-mask QC flags; patients that could not be segmented
    evaluation/                      Dice, HD95, MSD, volume difference (when references exist)

Finished patients of an earlier call with the same model and images are reused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from radiopipe.cohort.manifest import Cohort, read_manifest
from radiopipe.config.segmentation import SegmentStageSettings
from radiopipe.errors import RadiopipeError
from radiopipe.segment.evaluate import Evaluation, run_evaluation
from radiopipe.segment.model_folder import CARD_FILE
from radiopipe.segment.predict import predict

log = logging.getLogger(__name__)

EVALUATION_DIR = "evaluation"


@dataclass
class SegmentationStage:
    """What the stage wrote: manifest, QC flags, failures, evaluation; patients reused."""

    manifest: Path
    qc: pd.DataFrame
    failures: pd.DataFrame
    evaluation: Evaluation | None
    reused: int
    model: Path | None = None
    model_id: str = ""
    device: str = ""

    def provenance(self) -> dict:
        """What the stage's provenance records about the segmentation."""
        return {
            "model": str(self.model.resolve()) if self.model is not None else None,
            "model_id": self.model_id, "device": self.device,
            "patients": int(self.qc["patient_id"].nunique()) if len(self.qc) else 0,
            "failed": len(self.failures), "reused": self.reused,
        }  # fmt: skip

    @property
    def table(self) -> pd.DataFrame:
        """QC flags joined with Dice / HD95 per patient and sequence (scores NaN without one)."""
        if self.evaluation is None or self.qc.empty:
            return self.qc.copy()
        scores = self.evaluation.metrics.drop(columns=["site", "split"])
        return self.qc.merge(scores, on=["patient_id", "sequence"], how="left")


def model_folder(model: str | Path) -> Path:
    """The model folder, given the folder itself or its ``segmentation_model.json``."""
    path = Path(model)
    if path.is_file() and path.name == CARD_FILE:
        return path.parent
    if not (path / CARD_FILE).is_file():
        raise RadiopipeError(
            f"{path}: not a trained segmentation model (no {CARD_FILE}); train one with "
            "'radiopipe segment train' or leave segmentation out of the pipeline"
        )
    return path


def segment_cohort(
    manifest: str | Path | Cohort,
    model: str | Path,
    out: str | Path,
    settings: SegmentStageSettings | None = None,
    show_progress: bool = True,
) -> SegmentationStage:
    """Segment a cohort with a trained model; write masks, manifest, QC and evaluation to ``out``.

    Patients that fail are listed in ``failures.csv`` (their mask cells stay empty) instead of
    stopping the stage. The evaluation runs when ``settings.evaluate`` and at least one
    segmented patient has a reference mask.
    """
    settings = settings or SegmentStageSettings()
    cohort = manifest if isinstance(manifest, Cohort) else read_manifest(manifest)
    if settings.splits is not None:
        cohort = cohort.subset(patients=list(
            cohort.table.loc[cohort.table["split"].isin(settings.splits), "patient_id"]
        ))  # fmt: skip
        if not cohort.patients:
            raise RadiopipeError(
                f"manifest {cohort.source}: no patient in split(s) {', '.join(settings.splits)}"
            )
    out, folder = Path(out), model_folder(model)
    result = predict(
        cohort, folder, out, device=settings.device,
        save_probabilities=settings.save_probabilities, show_progress=show_progress,
    )  # fmt: skip
    if len(result.failures):
        log.warning("segmentation failed for %d patient(s); see %s", len(result.failures),
                    out / "failures.csv")  # fmt: skip
    evaluation = None
    predicted = read_manifest(result.manifest)
    if settings.evaluate and _has_references(predicted):
        evaluation = run_evaluation(predicted, out / EVALUATION_DIR, overlays=settings.overlays)
    elif settings.evaluate:
        log.info("no reference masks in %s: segmentation not scored", cohort.source)
    return SegmentationStage(
        result.manifest, result.qc, result.failures, evaluation, result.reused, folder,
        result.model_id, result.device,
    )  # fmt: skip


def _has_references(cohort: Cohort) -> bool:
    """True if some patient has both an automatic mask and a reference (mask2) mask."""
    return any(
        cohort.mask_path(p, s) is not None and cohort.mask_path(p, s, second=True) is not None
        for s in cohort.sequences
        for p in cohort.patients
    )
