"""SHAP explanations of a fitted radiopipe pipeline: the ensemble and its tree base learners."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from radiopipe.config.explain import ExplainConfig
from radiopipe.errors import RadiopipeError
from radiopipe.explain.groups import grouped_importance, importance_table
from radiopipe.explain.permutation import PositiveProbability, permutation_shap
from radiopipe.explain.targets import (
    PERMUTATION,
    Target,
    find_targets,
    selected_space,
    split_pipeline,
)
from radiopipe.explain.trees import tree_shap

log = logging.getLogger(__name__)

METHOD_TEXT = {
    PERMUTATION: "model-agnostic antithetic permutation sampling",
    "tree": "interventional TreeSHAP (exact)",
}


@dataclass
class ModelExplanation:
    """SHAP values of one model for the explained patients, with what they explain."""

    model: str
    method: str
    scale: str
    features: list[str]
    patients: pd.DataFrame  # index patient_id; split, label, output
    values: np.ndarray  # (n, M)
    data: np.ndarray  # (n, M) feature values in the explained (selected) space
    base_value: float
    seconds: float = float("nan")

    @property
    def additivity_error(self) -> float:
        """max |sum of SHAP values + base value - explained output| over patients."""
        if not len(self.values):
            return 0.0
        total = self.values.sum(axis=1) + self.base_value
        return float(np.max(np.abs(total - self.patients["output"].to_numpy())))

    def importance(self) -> pd.DataFrame:
        """Mean |SHAP| per feature, ranked."""
        return importance_table(self.values, self.features).assign(model=self.model)

    def grouped(self) -> pd.DataFrame:
        """Importance by sequence, image type and feature class."""
        return grouped_importance(self.values, self.features).assign(model=self.model)

    def explanation(self, patients: list[str] | None = None) -> object:
        """A ``shap.Explanation`` (for shap's plots), optionally for some patients only."""
        import shap

        from radiopipe.explain.groups import describe_features

        rows = np.arange(len(self.values))
        if patients is not None:
            index = self.patients.index.get_indexer(patients)
            missing = [p for p, i in zip(patients, index, strict=True) if i < 0]
            if missing:
                raise RadiopipeError(f"model {self.model}: patient(s) {missing} not explained")
            rows = index
        labels = describe_features(self.features)["label"].tolist()
        return shap.Explanation(
            values=self.values[rows],
            base_values=np.full(len(rows), self.base_value),
            data=self.data[rows],
            feature_names=labels,
        )


@dataclass
class ShapResult:
    """Explanations of every requested model that exists, plus the shared background."""

    models: dict[str, ModelExplanation]
    background: list[str]
    settings: ExplainConfig
    notes: list[str] = field(default_factory=list)


def explain_pipeline(
    pipeline: object,
    X: pd.DataFrame,
    patients: pd.DataFrame,
    background: list[str],
    config: ExplainConfig | None = None,
    final_name: str = "stack",
) -> ShapResult:
    """SHAP values of a fitted pipeline's final estimator (and its tree base learners).

    ``X``: the pipeline's input, indexed by patient. ``patients``: index patient_id with a
    ``split`` column (and optionally ``label``). ``background``: the patients the final
    model was trained on; ``config.background_size`` of them (seeded) form the background.
    """
    config = config or ExplainConfig()
    _check_inputs(X, patients, background)
    front, final = split_pipeline(pipeline)
    Z = selected_space(front, X)
    explained = patients.index
    if config.splits is not None:
        explained = patients.index[patients["split"].isin(config.splits)]
        if explained.empty:
            raise RadiopipeError(f"no patient in the split(s) {config.splits} to explain")
    rng = np.random.default_rng(config.seed)
    size = min(config.background_size, len(background))
    chosen = sorted(rng.choice(np.asarray(background, dtype=object), size, replace=False))
    bg = Z.loc[chosen].to_numpy(dtype=np.float64)
    data = Z.loc[explained]
    unknown = [p for p in config.waterfall_patients if p not in set(explained)]
    if unknown:
        raise RadiopipeError(
            f"waterfall patient(s) {', '.join(unknown)} are not among the explained patients"
        )
    targets, notes = find_targets(final, config.models, final_name)
    for note in notes:
        log.warning("explain: %s; skipped", note)
    if not targets:
        raise RadiopipeError("none of the requested models exists: " + "; ".join(notes))
    models = {}
    for target in targets:
        models[target.name] = _explain_one(target, data, bg, patients.loc[explained], config)
    return ShapResult(models, [str(c) for c in chosen], config, notes)


def _explain_one(
    target: Target,
    data: pd.DataFrame,
    background: np.ndarray,
    patients: pd.DataFrame,
    config: ExplainConfig,
) -> ModelExplanation:
    names = list(data.columns)
    values = data.to_numpy(dtype=np.float64)
    start = time.perf_counter()
    if target.method == PERMUTATION:
        estimate = permutation_shap(
            PositiveProbability(target.estimator, names),
            values,
            background,
            permutations=config.permutations,
            scale=config.scale,
            seed=config.seed,
            n_jobs=config.n_jobs,
            batch_rows=config.batch_rows,
        )
    else:
        estimate = tree_shap(target.estimator, values, background, names)
    seconds = time.perf_counter() - start
    frame = patients.loc[:, [c for c in ("split", "label") if c in patients.columns]].copy()
    frame["output"] = estimate.output
    result = ModelExplanation(
        model=target.name,
        method=METHOD_TEXT[target.method],
        scale=estimate.scale,
        features=names,
        patients=frame,
        values=estimate.values,
        data=values,
        base_value=estimate.base_value,
        seconds=seconds,
    )
    log.info(
        "explained %s for %d patients x %d features in %.1f s (%s; additivity error %.1e)",
        target.name,
        len(values),
        len(names),
        seconds,
        result.method,
        result.additivity_error,
    )
    if result.additivity_error > 1e-6:
        log.warning(
            "%s: SHAP values miss the model output by up to %.2g",
            target.name,
            result.additivity_error,
        )
    return result


def _check_inputs(X: pd.DataFrame, patients: pd.DataFrame, background: list[str]) -> None:
    if not isinstance(X, pd.DataFrame):
        raise RadiopipeError("explain: X must be a DataFrame indexed by patient_id")
    missing = patients.index.difference(X.index)
    if len(missing):
        raise RadiopipeError(
            f"explain: no features for patient(s) {', '.join(map(str, missing[:10]))}"
        )
    absent = [p for p in background if p not in X.index]
    if absent:
        raise RadiopipeError(
            f"explain: background patient(s) {', '.join(map(str, absent[:10]))} have no features"
        )
    if not background:
        raise RadiopipeError("explain: no training patients to draw the background from")
    if "split" not in patients.columns:
        raise RadiopipeError("explain: the patients table needs a 'split' column")
