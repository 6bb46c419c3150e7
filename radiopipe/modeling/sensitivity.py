"""Harmonisation sensitivity: the same models scored with the new centre left unadjusted
(``passthrough``) and the whole pipeline refitted without ComBat on the same folds (``none``).

Under ``unseen_site: estimate`` a centre without training patients has its location/scale
estimated from its own unlabelled test patients (transductive, label-free). These extra
predictions show how much the reported test AUC depends on that step; evaluate turns them into
``harmonisation_sensitivity.csv`` next to the as-trained (``estimate``) AUCs.
"""

from __future__ import annotations

import copy
import dataclasses
import logging

import pandas as pd

from radiopipe.config.model import ModelConfig
from radiopipe.contracts import PREDICTIONS_COLUMNS
from radiopipe.modeling import diagnostics
from radiopipe.modeling.fitting import UnitResult, prediction_rows
from radiopipe.modeling.tables import ModelData

log = logging.getLogger(__name__)

SENSITIVITY_COLUMNS = (*PREDICTIONS_COLUMNS, "harmonisation")
PASSTHROUGH, NONE = "passthrough", "none"


def wanted(config: ModelConfig, data: ModelData) -> bool:
    """True when the run harmonises with ComBat and asks for the sensitivity predictions."""
    harm = config.harmonise
    return harm.sensitivity and harm.method == "combat" and data.has_sites


def passthrough_predictions(final_unit, final: UnitResult, data: ModelData) -> pd.DataFrame:
    """The final models re-scored on their test patients with unseen sites left unadjusted."""
    pipelines = copy.deepcopy(final.pipelines)
    for pipeline in pipelines.values():
        pipeline.named_steps["harmonise"].set_params(unseen_site=PASSTHROUGH)
    train = set(final_unit.train)
    tested = tuple(p for p in final_unit.test if p not in train)
    if not tested:
        return empty()
    unit = dataclasses.replace(final_unit, test=tested)
    X_test = data.X.loc[list(tested)]
    probabilities = diagnostics.predict_models(
        pipelines["stack"], pipelines.get("lasso_lr"), X_test
    )
    return prediction_rows(unit, data, probabilities).assign(harmonisation=PASSTHROUGH)


def without_combat(config: ModelConfig) -> ModelConfig:
    """The same settings with ComBat switched off (and no nested sensitivity run)."""
    harmonise = config.harmonise.model_copy(update={"method": NONE, "sensitivity": False})
    return config.model_copy(update={"harmonise": harmonise})


def empty() -> pd.DataFrame:
    """A sensitivity table without rows (no ComBat, no sites, or switched off)."""
    return pd.DataFrame(columns=list(SENSITIVITY_COLUMNS))
