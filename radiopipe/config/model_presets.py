"""Named model presets in code: ``auto``, the default for new studies (no model config given).

configs/model/auto.yaml is the same preset written out with its reasons; a test keeps the two
identical. The class defaults of :class:`~radiopipe.config.model.ModelConfig` stay those of
the published recipe (configs/model/paper.yaml), so a config that spells out only some
settings keeps meaning what it meant.
"""

from __future__ import annotations

from typing import Any

from radiopipe.config.model import ModelConfig

AUTO: dict[str, Any] = {
    "n_jobs": 2,
    "balance": {"method": "tune", "choices": ["class_weight", "smote"]},
    "ttest": {"enabled": False},
    "pearson": {"threshold": 0.9},
    "lasso": {"enabled": False},
    "learners": {
        "names": ["logreg", "svm", "rf", "lightgbm"],
        "n_trials": 25,
        "timeout_s": 600.0,
        "tune_features": True,
        "max_features": 100,
        "ensemble_top": 3,
    },
    "stack": {"method": "logistic", "oof_split": "fresh"},
}


def auto_config() -> ModelConfig:
    """The ``auto`` preset (configs/model/auto.yaml)."""
    return ModelConfig.model_validate(AUTO)


def new_study_config() -> ModelConfig:
    """The model settings of a study that names no model config: the ``auto`` preset."""
    return auto_config()
