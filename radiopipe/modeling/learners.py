"""The base learners (SVM, random forest, LightGBM, MLP) and their hyperparameter search spaces.

A search space is plain data (``{param: {type, low, high, log, step, choices}}``) so that it
can live in the YAML config; :func:`suggest` turns it into Optuna suggestions.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import ClassifierMixin

LEARNERS = ("svm", "rf", "lightgbm", "mlp", "logreg")

DEFAULT_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "svm": {
        "C": {"type": "float", "low": 1e-3, "high": 1e3, "log": True},
        "gamma": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    },
    "rf": {
        # at most 200 trees and a quarter of the features per split: a 25-trial search on a
        # 300 x 2400 study stays within the 10-minute budget (benchmarks/modelling.py)
        "n_estimators": {"type": "int", "low": 50, "high": 200, "step": 50},
        "max_depth": {"type": "int", "low": 2, "high": 12},
        "min_samples_leaf": {"type": "int", "low": 1, "high": 10},
        "max_features": {"type": "categorical", "choices": ["sqrt", "log2", 0.25]},
    },
    "lightgbm": {
        "n_estimators": {"type": "int", "low": 50, "high": 400, "step": 50},
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
        "num_leaves": {"type": "int", "low": 4, "high": 32, "log": True},
        "min_child_samples": {"type": "int", "low": 2, "high": 30},
        "subsample": {"type": "float", "low": 0.5, "high": 1.0},
        "colsample_bytree": {"type": "float", "low": 0.3, "high": 1.0},
        "reg_lambda": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
    },
    "mlp": {
        "hidden_layer_sizes": {"type": "categorical", "choices": ["8", "16", "32", "16-8"]},
        "alpha": {"type": "float", "low": 1e-4, "high": 10.0, "log": True},
    },
    # penalised logistic regression (L1: the LASSO-logistic baseline as a base learner; L2)
    "logreg": {
        "C": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
        "penalty": {"type": "categorical", "choices": ["l1", "l2"]},
    },
}


def default_params(name: str, n_features: int, n_samples: int = 200) -> dict[str, Any]:
    """The library defaults (or close to them): tried first, so tuning never does worse.

    LightGBM's ``min_child_samples`` (20) is lowered on small training sets (a tenth of the
    rows, at least 2): with 20 a 30-patient fold cannot split and predicts a constant.
    """
    return {
        "svm": {"C": 1.0, "gamma": 1.0 / max(n_features, 1)},
        "rf": {"n_estimators": 100, "max_depth": 8, "min_samples_leaf": 1, "max_features": "sqrt"},
        "lightgbm": {
            "n_estimators": 100,
            "learning_rate": 0.1,
            "num_leaves": 16,
            "min_child_samples": int(min(20, max(2, n_samples // 10))),
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "reg_lambda": 1e-3,
        },
        "mlp": {"hidden_layer_sizes": "16", "alpha": 1e-4},
        "logreg": {"C": 0.1, "penalty": "l1"},
    }[name]


def in_space(params: dict[str, Any], space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``params`` moved into the search space: numbers clipped onto its range (and step grid);
    unknown keys and disallowed choices dropped (Optuna samples those)."""
    kept = {}
    for key, value in params.items():
        spec = space.get(key)
        if spec is None:
            continue
        if spec["type"] == "categorical":
            if value in spec["choices"]:
                kept[key] = value
        else:
            low, high, step = spec["low"], spec["high"], spec.get("step")
            value = min(max(value, low), high)
            if step:  # onto the grid Optuna samples from
                value = min(low + round((value - low) / step) * step, high)
            kept[key] = int(value) if spec["type"] == "int" else float(value)
    return kept


def suggest(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Draw one point of ``space`` from an Optuna trial."""
    params: dict[str, Any] = {}
    for key, spec in space.items():
        kind = spec["type"]
        if kind == "float":
            params[key] = trial.suggest_float(
                key, spec["low"], spec["high"], log=spec.get("log", False)
            )
        elif kind == "int":
            params[key] = trial.suggest_int(
                key, spec["low"], spec["high"], step=spec.get("step", 1), log=spec.get("log", False)
            )
        elif kind == "categorical":
            params[key] = trial.suggest_categorical(key, spec["choices"])
        else:
            raise ValueError(f"unknown search-space type {kind!r} for {key!r}")
    return params


def make_learner(
    name: str,
    params: dict[str, Any],
    random_state: int | None,
    class_weight: str | None = None,
    calibration_folds: int = 5,
) -> ClassifierMixin:
    """A fresh, seeded base learner with the given hyperparameters.

    ``calibration_folds``: folds of the SVM's Platt scaling (at most the smaller class size).
    """
    params = dict(params)
    if name == "svm":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        svc = SVC(kernel="rbf", class_weight=class_weight, random_state=random_state, **params)
        # Platt scaling fitted by internal CV, as SVC(probability=True) did (deprecated in 1.9)
        return CalibratedClassifierCV(
            svc, method="sigmoid", cv=max(2, calibration_folds), ensemble=False
        )
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            class_weight=class_weight, random_state=random_state, n_jobs=1, **params
        )
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            class_weight=class_weight,
            random_state=random_state,
            n_jobs=1,
            verbose=-1,
            subsample_freq=1,
            deterministic=True,
            force_row_wise=True,
            **params,
        )
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier

        hidden = params.pop("hidden_layer_sizes", "16")
        if isinstance(hidden, str):
            hidden = tuple(int(h) for h in hidden.split("-"))
        # L-BFGS: faster and better than Adam on radiomics-sized (small) data
        return MLPClassifier(
            hidden_layer_sizes=hidden,
            solver="lbfgs",
            max_iter=500,
            random_state=random_state,
            **params,
        )
    if name == "logreg":
        from radiopipe.modeling.lasso import penalised_logistic

        return penalised_logistic(
            params.get("C", 0.1), params.get("penalty", "l1"), class_weight, random_state
        )
    raise ValueError(f"unknown learner {name!r}; choose from {', '.join(LEARNERS)}")
