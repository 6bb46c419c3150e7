"""Add a deep run's predictions (and thresholds) to a radiomics run, after checking the splits."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from radiopipe.atomic import read_parquet_metadata, write_json, write_parquet
from radiopipe.config.deep import RESERVED_MODEL_NAMES
from radiopipe.deep.predict import predictions_frame
from radiopipe.errors import RadiopipeError
from radiopipe.stats.predictions import check_predictions, read_predictions

log = logging.getLogger(__name__)

PREDICTIONS, THRESHOLDS = "predictions.parquet", "thresholds.json"


def predictions_file(path: str | Path) -> Path:
    """The predictions table of a run folder, or ``path`` itself if it is a file."""
    path = Path(path)
    return path / PREDICTIONS if path.is_dir() else path


def merge_predictions(source: str | Path, run: str | Path) -> pd.DataFrame:
    """Put ``source``'s models into ``run/predictions.parquet`` (replacing their old rows).

    Refused unless the deep rows use exactly the run's patients per split and fold, and the
    same labels; the file is replaced atomically, its other rows and metadata kept.
    """
    run = Path(run)
    deep = read_predictions(predictions_file(source))
    target_file = run / PREDICTIONS
    target = read_predictions(target_file)
    clash = sorted(set(deep["model"]) & set(RESERVED_MODEL_NAMES))
    if clash:
        raise RadiopipeError(f"{source}: holds radiomics model(s) {', '.join(clash)}; not merged")
    reference = target.loc[~target["model"].isin(deep["model"])]
    if reference.empty:
        raise RadiopipeError(f"{target_file}: holds no other model to compare the splits with")
    check_same_splits(deep, reference, str(source), str(target_file))
    raw = pd.read_parquet(target_file)  # keeps any extra columns the run's table has
    kept = raw.loc[~raw["model"].astype(str).isin(deep["model"])]
    merged = pd.concat([kept, predictions_frame(deep)], ignore_index=True)
    check_predictions(merged, f"{target_file} merged with {source}")
    write_parquet(target_file, merged, metadata=read_parquet_metadata(target_file))
    _merge_thresholds(Path(source), run)
    log.info("merged %d row(s) of %s into %s", len(deep), ", ".join(deep["model"].unique()), run)
    return merged


def check_same_splits(deep: pd.DataFrame, reference: pd.DataFrame, source: str, target: str):
    """Raise unless every deep split/fold holds the same patients as the run."""
    for model, rows in deep.groupby("model"):
        for split, group in rows.groupby("split"):
            ref = reference.loc[reference["split"] == split]
            if ref.empty:
                raise RadiopipeError(
                    f"{source}: model {model} has '{split}' rows but {target} has none; train "
                    "the deep model with the same design (--folds for a cross-validated run)"
                )
            # train_oof folds are each family's own inner CV; only the patients must match.
            key = ["patient_id"] if split == "train_oof" else ["patient_id", "fold"]
            ours = set(map(tuple, group[key].drop_duplicates().to_numpy()))
            theirs = set(map(tuple, ref[key].drop_duplicates().to_numpy()))
            if ours != theirs:
                extra, lacking = sorted(ours - theirs), sorted(theirs - ours)
                raise RadiopipeError(
                    f"{source}: model {model}, split '{split}' does not use the run's patients/"
                    f"folds: {len(extra)} not in {target} (e.g. {extra[:3]}), {len(lacking)} "
                    f"missing (e.g. {lacking[:3]}); train on the same manifest and folds.csv"
                )


def _merge_thresholds(source: Path, run: Path) -> None:
    folder = source if source.is_dir() else source.parent
    theirs = folder / THRESHOLDS
    if not theirs.is_file():
        return
    target = run / THRESHOLDS
    merged = json.loads(target.read_text()) if target.is_file() else {}
    merged.update(json.loads(theirs.read_text()))
    write_json(target, merged)
