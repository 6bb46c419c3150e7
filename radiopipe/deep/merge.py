"""Put deep runs' predictions (and thresholds) next to a radiomics run's, after checking that
every split and fold holds the same patients, so the statistics compare them paired."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from radiopipe.atomic import read_parquet_metadata, write_json, write_parquet
from radiopipe.config.deep import RESERVED_MODEL_NAMES
from radiopipe.contracts import DeepModelLayout
from radiopipe.deep.predict import predictions_frame
from radiopipe.errors import RadiopipeError
from radiopipe.stats.predictions import check_predictions, read_predictions

log = logging.getLogger(__name__)

PREDICTIONS, THRESHOLDS = DeepModelLayout.FILES["predictions"], DeepModelLayout.FILES["thresholds"]


def predictions_file(path: str | Path) -> Path:
    """The predictions table of a run folder, or ``path`` itself if it is a file."""
    path = Path(path)
    return path / PREDICTIONS if path.is_dir() else path


def combine_predictions(
    radiomics: str | Path, deep_runs: Sequence[str | Path]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The radiomics run's table with every deep run's rows, and all thresholds.

    A deep model's earlier rows in the radiomics table are replaced. Refused unless each deep
    split/fold holds exactly the radiomics patients (deep rows of patients the radiomics run
    does not have are dropped with a warning); labels must agree (checked by radiopipe.stats).
    """
    target_file = predictions_file(radiomics)
    target = read_predictions(target_file)
    combined = pd.read_parquet(target_file)  # keeps any extra columns the run's table has
    thresholds = _read_thresholds(target_file.parent)
    for source in deep_runs:
        deep = read_predictions(predictions_file(source))
        clash = sorted(set(deep["model"]) & set(RESERVED_MODEL_NAMES))
        if clash:
            raise RadiopipeError(f"{source}: holds radiomics model(s) {', '.join(clash)}")
        reference = target.loc[~target["model"].isin(deep["model"])]
        if reference.empty:
            raise RadiopipeError(f"{target_file}: holds no other model to compare the splits with")
        deep = same_splits(deep, reference, str(source), str(target_file))
        combined = combined.loc[~combined["model"].astype(str).isin(deep["model"])]
        combined = pd.concat([combined, predictions_frame(deep)], ignore_index=True)
        thresholds.update(_read_thresholds(predictions_file(source).parent))
        log.info("added %d row(s) of %s from %s", len(deep), ", ".join(deep["model"].unique()),
                 source)  # fmt: skip
    check_predictions(combined, f"{target_file} with {', '.join(map(str, deep_runs))}")
    return combined, thresholds


def write_combined(
    radiomics: str | Path, deep_runs: Sequence[str | Path], out: str | Path
) -> pd.DataFrame:
    """Write ``out/predictions.parquet`` and ``out/thresholds.json``: all models together."""
    combined, thresholds = combine_predictions(radiomics, deep_runs)
    out = Path(out)
    write_parquet(
        out / PREDICTIONS, combined, metadata=read_parquet_metadata(predictions_file(radiomics))
    )
    write_json(out / THRESHOLDS, thresholds)
    return combined


def merge_predictions(source: str | Path, run: str | Path) -> pd.DataFrame:
    """Add ``source``'s models to ``run/predictions.parquet`` in place (atomic replace)."""
    return write_combined(Path(run), [source], Path(run))


def same_splits(
    deep: pd.DataFrame, reference: pd.DataFrame, source: str, target: str
) -> pd.DataFrame:
    """``deep`` restricted to the run's patients; raise unless every split/fold matches."""
    keep = pd.Series(True, index=deep.index)
    for model, rows in deep.groupby("model"):
        for split, group in rows.groupby("split"):
            ref = reference.loc[reference["split"] == split]
            if ref.empty:
                raise RadiopipeError(
                    f"{source}: model {model} has '{split}' rows but {target} has none; train "
                    "the deep model with the radiomics run's design and folds.csv"
                )
            ours = set(zip(group["patient_id"], group["fold"], strict=True))
            theirs = set(zip(ref["patient_id"], ref["fold"], strict=True))
            known = set(ref["patient_id"])
            extra = sorted(k for k in ours - theirs if k[0] not in known)
            mismatched = sorted(k for k in ours - theirs if k[0] in known)
            lacking = sorted(theirs - ours)
            if mismatched or lacking:
                raise RadiopipeError(
                    f"{source}: model {model}, split '{split}' does not use the run's patients/"
                    f"folds: {len(mismatched)} in other folds (e.g. {mismatched[:3]}), "
                    f"{len(lacking)} missing (e.g. {lacking[:3]}); train on the same manifest "
                    "with the run's folds.csv (--folds)"
                )
            if extra:
                log.warning(
                    "%s: %s '%s' rows of %d patient(s) the radiomics run lacks are left out: %s",
                    source, model, split, len(extra), ", ".join(p for p, _ in extra[:10]),
                )  # fmt: skip
                keep[group.index[group["patient_id"].isin({p for p, _ in extra})]] = False
    return deep.loc[keep].reset_index(drop=True)


def _read_thresholds(folder: Path) -> dict[str, float]:
    path = folder / THRESHOLDS
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RadiopipeError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(values, dict):
        raise RadiopipeError(f"{path}: expected {{model: threshold}}")
    return {str(k): float(v) for k, v in values.items()}
