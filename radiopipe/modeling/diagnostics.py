"""What a fitted pipeline tells us: probabilities per model, the feature funnel, the selected
features with their LASSO coefficients, and the tuning history."""

from __future__ import annotations

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline

from radiopipe.modeling.columns import meta_columns
from radiopipe.modeling.pipeline_factory import PASS, front_of

FUNNEL_STEPS = ("constant", "icc", "ttest", "pearson", "lasso")
FUNNEL_COLUMNS = ("fold", "input", *FUNNEL_STEPS)
SELECTED_COLUMNS = ("fold", "feature", "lasso_coef")
TUNING_COLUMNS = ("model", "fold", "trial", "params", "value", "duration", "state")


def predict_models(pipeline: Pipeline, baseline: Pipeline | None, X: pd.DataFrame) -> dict:
    """Positive-class probability of every model (base learners, stack[, fusion], lasso_lr)."""
    front = front_of(pipeline)
    inner = X if front is None else front.transform(X)
    probabilities = pipeline[-1].predict_all(inner)
    if baseline is not None:
        probabilities["lasso_lr"] = baseline.predict_proba(X)[:, 1]
    return probabilities


def funnel(pipeline: Pipeline, X: pd.DataFrame, fold: int) -> dict[str, int]:
    """Feature counts after each filter (a switched-off filter keeps the count)."""
    count = X.shape[1] - len(meta_columns(X))
    row = {"fold": fold, "input": count}
    for name in FUNNEL_STEPS:
        step = pipeline.named_steps.get(name, PASS)
        if step not in (PASS, None):
            count = int(step.n_features_out_)
        row[name] = count
    return row


def selected_features(pipeline: Pipeline, fold: int) -> pd.DataFrame:
    """The features that enter the model, with their LASSO coefficient (NaN without LASSO)."""
    model = pipeline[-1]
    names = [str(n) for n in getattr(model, "feature_names_in_", [])]
    lasso = pipeline.named_steps.get("lasso", PASS)
    coef = {}
    if lasso not in (PASS, None):
        coef = dict(zip(map(str, lasso.feature_names_in_), lasso.coef_, strict=True))
    rows = [(fold, name, float(coef.get(name, np.nan))) for name in names]
    return pd.DataFrame(rows, columns=list(SELECTED_COLUMNS))


def tuning_history(pipeline: Pipeline, fold: int) -> pd.DataFrame:
    """Every Optuna trial of every base learner in this fit."""
    rows = [
        {"model": name, "fold": fold, **trial}
        for name, learner in pipeline[-1].named_learners_.items()
        for trial in learner.trials_
    ]
    return pd.DataFrame(rows, columns=list(TUNING_COLUMNS))


def selection_stability(selected: pd.DataFrame) -> pd.DataFrame:
    """How often each feature is selected across the CV folds (the final model excluded)."""
    cv = selected[selected["fold"] >= 0]
    n_folds = max(cv["fold"].nunique(), 1)
    features = sorted(set(selected["feature"]))
    per_feature = cv.groupby("feature")["fold"].nunique().reindex(features, fill_value=0)
    counts = per_feature.rename("n_folds").rename_axis("feature").reset_index()
    counts["frequency"] = counts["n_folds"] / n_folds
    final = set(selected.loc[selected["fold"] < 0, "feature"])
    counts["in_final_model"] = counts["feature"].isin(final)
    return counts.sort_values(["frequency", "feature"], ascending=[False, True], ignore_index=True)
