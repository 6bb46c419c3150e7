"""Fit the pipelines of one unit (an outer fold or the final model) and collect its results."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from radiopipe.config.model import ModelConfig
from radiopipe.contracts import PREDICTIONS_COLUMNS, Split
from radiopipe.modeling import diagnostics, fold_thresholds
from radiopipe.modeling.combined import radscore_rows, unit_models
from radiopipe.modeling.pipeline_factory import build_baseline, build_pipeline
from radiopipe.modeling.tables import ModelData
from radiopipe.modeling.validation import Unit, unit_seed

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = PREDICTIONS_COLUMNS


@dataclass
class UnitResult:
    """Everything one unit produced (pipelines only for the final model)."""

    predictions: pd.DataFrame
    funnel: pd.DataFrame
    selected: pd.DataFrame
    tuning: pd.DataFrame
    thresholds: pd.DataFrame = field(default_factory=fold_thresholds.empty)  # nested CV only
    pipelines: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # CPU time of the fit (0 when read back from a checkpoint)
    # rad-scores (``radscore``) and, for the final model, the clinical/combined tables
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)
    clinical_spec: dict = field(default_factory=dict)  # final unit: scoring the clinical models


def run_unit(
    unit: Unit, data: ModelData, config: ModelConfig, fusion: dict[str, float] | None = None
) -> UnitResult:
    """Fit the radiomics pipeline (and the baseline) on the unit's training patients."""
    started = time.process_time()
    seed = unit_seed(config.seed, unit.fold)
    X_train = data.X.loc[list(unit.train)]
    y_train = data.labels.loc[list(unit.train)].to_numpy(dtype=int)
    X_test = data.X.loc[list(unit.test)]
    with threadpool_limits(limits=1):  # small data: one thread per fit, parallel over units
        pipeline = build_pipeline(config, seed, data.has_sites, fusion).fit(X_train, y_train)
        baseline = None
        if config.baseline.enabled:
            baseline = build_baseline(config, seed, data.has_sites).fit(X_train, y_train)
        probabilities = diagnostics.predict_models(pipeline, baseline, X_test)
        extra = unit_models(unit, data, config, pipeline, seed)
        probabilities.update(extra.probabilities)
        thresholds = fold_thresholds.empty()
        if unit.oof_split == Split.CV:  # nested CV: the fold's threshold from its own patients
            inner, labels = fold_thresholds.inner_oof(
                pipeline, baseline, X_train, y_train, config.cv.inner_folds, seed
            )
            thresholds = fold_thresholds.fold_thresholds(inner, labels, unit.fold)
    predictions = prediction_rows(unit, data, probabilities)
    result = UnitResult(
        predictions=predictions,
        funnel=pd.DataFrame([diagnostics.funnel(pipeline, X_train, unit.fold)]),
        selected=diagnostics.selected_features(pipeline, unit.fold),
        tuning=diagnostics.tuning_history(pipeline, unit.fold),
        thresholds=thresholds,
        extras=dict(extra.tables),
    )
    if extra.radscores is not None:
        result.extras["radscore"] = radscore_rows(unit, data, extra.radscores)
    result.cpu_seconds = time.process_time() - started
    if unit.is_final:
        result.pipelines = {"stack": pipeline}
        if baseline is not None:
            result.pipelines["lasso_lr"] = baseline
        if extra.radscore_pipeline is not None:
            result.pipelines["radscore"] = extra.radscore_pipeline
        result.clinical_spec = extra.spec
    return result


def prediction_rows(
    unit: Unit, data: ModelData, probabilities: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Long prediction rows (contract of predictions.parquet) for the unit's scored patients."""
    patients = list(unit.test)
    if unit.is_final:
        train = set(unit.train)
        splits = [Split.TRAIN.value if p in train else data.splits[p] for p in patients]
    else:
        splits = [unit.oof_split] * len(patients)
    labels = data.labels.loc[patients].to_numpy()
    frames = [
        pd.DataFrame(
            {
                "patient_id": patients,
                "split": splits,
                "fold": unit.fold,
                "model": model,
                "probability": np.asarray(values, dtype=np.float64),
                "label": pd.array(labels, dtype="Int64"),
            }
        )
        for model, values in probabilities.items()
    ]
    return pd.concat(frames, ignore_index=True)[list(PREDICTION_COLUMNS)]
