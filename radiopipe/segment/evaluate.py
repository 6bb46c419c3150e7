"""``segment evaluate``: per-case metrics, their summary for the report, and overlay PNGs."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.atomic import write_csv, write_json
from radiopipe.cohort.manifest import Cohort
from radiopipe.imaging import read_image
from radiopipe.runs import RunFolder
from radiopipe.segment.metrics import evaluable_sequences, evaluate, summarise
from radiopipe.segment.overlay import OverlayCase, save_overlays

log = logging.getLogger(__name__)

METRICS_FILE = "segmentation_metrics.csv"
SUMMARY_FILE = "segmentation_summary.csv"
SUMMARY_JSON = "segmentation_summary.json"


@dataclass
class Evaluation:
    """Per-case metrics, their summary, and the files written."""

    metrics: pd.DataFrame
    summary: pd.DataFrame
    files: list[Path]


def run_evaluation(
    cohort: Cohort,
    out: str | Path,
    sequences: list[str] | None = None,
    reference: Cohort | None = None,
    overlays: int = 0,
) -> Evaluation:
    """Evaluate automatic masks against references; write tables (and overlays) into ``out``."""
    folder = RunFolder.at(out)
    folder.record("segment evaluate", manifest=cohort.source,
                  extra={"reference": str(reference.source) if reference else None})  # fmt: skip
    sequences = sequences or evaluable_sequences(cohort, reference)
    metrics = evaluate(cohort, sequences, reference)
    summary = summarise(metrics)
    files = [
        write_csv(folder.path(METRICS_FILE), metrics),
        write_csv(folder.path(SUMMARY_FILE), summary),
        write_json(folder.path(SUMMARY_JSON), _summary_json(summary)),
    ]
    for sequence in sequences if overlays > 0 else []:
        picked = pick_cases(metrics[metrics["sequence"] == sequence], overlays)
        if picked.empty:
            continue
        cases = [_overlay_case(cohort, reference, row) for row in picked.itertuples()]
        files.append(save_overlays(
            cases, folder.path(f"overlays_{sequence}.png"),
            title=f"{sequence}: automatic vs reference masks (worst to best Dice)",
        ))  # fmt: skip
    return Evaluation(metrics, summary, files)


def pick_cases(metrics: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to ``n`` evaluated cases spread from the worst to the best Dice."""
    scored = metrics.dropna(subset=["dice"]).sort_values(["dice", "patient_id"])
    if len(scored) <= n:
        return scored
    index = np.unique(np.linspace(0, len(scored) - 1, n).round().astype(int))
    return scored.iloc[index]


def _overlay_case(cohort: Cohort, reference: Cohort | None, row) -> OverlayCase:
    patient, sequence = row.patient_id, row.sequence
    image = read_image(cohort.image_path(patient, sequence), patient=patient)
    auto = read_image(cohort.mask_path(patient, sequence), patient=patient)
    ref_path = (reference.mask_path(patient, sequence) if reference is not None
                else cohort.mask_path(patient, sequence, second=True))  # fmt: skip
    ref = read_image(ref_path, patient=patient) if ref_path is not None else None
    title = f"{patient} ({row.split or 'no split'}) Dice {row.dice:.3f}"
    if not math.isnan(row.hd95_mm):
        title += f", HD95 {row.hd95_mm:.1f} mm"
    return OverlayCase(title, image, auto, ref)


def _summary_json(summary: pd.DataFrame) -> dict:
    """Nested ``{sequence: {split: {column: value}}}`` with NaN as null, for the report."""
    nested: dict[str, dict[str, dict]] = {}
    for record in summary.to_dict(orient="records"):
        values = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                  for k, v in record.items() if k not in ("sequence", "split")}  # fmt: skip
        nested.setdefault(record["sequence"], {})[record["split"] or "unsplit"] = values
    return nested
