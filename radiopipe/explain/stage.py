"""The explain stage: the trained model artefact and the features in, ``explain/`` out.

Inputs (study run-folder layout, each overridable): ``train/model/`` (the modelling stage's
skops artefact, loaded through its safe loader), ``extract/features.parquet``,
``cohort/manifest.csv`` and ``train/thresholds.json``. The final model's training patients
form the background; every patient with features is explained unless the config restricts
the splits.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.config.explain import ExplainConfig
from radiopipe.contracts import RunLayout, TrainLayout
from radiopipe.errors import InputError, RadiopipeError
from radiopipe.explain.core import ShapResult, explain_pipeline
from radiopipe.explain.outputs import write_result

log = logging.getLogger(__name__)

STAGE = "explain"
FINAL_MODEL = "stack"


@dataclass(frozen=True)
class ExplainInputs:
    """Where the explain stage reads from and writes to."""

    model: Path
    features: Path
    manifest: Path
    thresholds: Path | None
    out: Path

    @classmethod
    def from_run(cls, run: str | Path, **overrides: Path | None) -> ExplainInputs:
        """The study run-folder layout, with any path overridden."""
        layout = RunLayout(run)
        defaults = {
            "model": layout.train.model_dir,
            "features": layout.extract.features,
            "manifest": layout.cohort.manifest,
            "thresholds": layout.train.thresholds,
            "out": layout.explain.folder,
        }
        paths = {k: overrides.get(k) or v for k, v in defaults.items()}
        if not Path(paths["thresholds"]).is_file() and overrides.get("thresholds") is None:
            paths["thresholds"] = None
        return cls(**{k: Path(v) if v is not None else None for k, v in paths.items()})

    def check(self) -> None:
        """Every input exists, else an error naming the missing one and the stage to run."""
        needs = [
            (TrainLayout(self.model.parent).model, "trained model (run `radiopipe train`)"),
            (self.features, "feature table (run `radiopipe extract`)"),
            (self.manifest, "cohort manifest"),
        ]
        if self.thresholds is not None:
            needs.append((self.thresholds, "thresholds file"))
        for path, what in needs:
            if not path.is_file():
                raise InputError(f"{what} not found", file=path)


def explain_run(inputs: ExplainInputs, config: ExplainConfig | None = None) -> ShapResult:
    """Explain the trained model and write ``explain/`` (a plain function of its inputs)."""
    config = config or ExplainConfig()
    inputs.check()
    inputs.out.mkdir(parents=True, exist_ok=True)
    pipeline, X, patients, background = load_inputs(inputs)
    result = explain_pipeline(pipeline, X, patients, background, config, FINAL_MODEL)
    threshold = _threshold(inputs.thresholds)
    checks = _compare_with_predictions(result, inputs)
    write_result(result, inputs.out, threshold, extra={"prediction_check": checks})
    return result


def load_inputs(inputs: ExplainInputs) -> tuple[object, pd.DataFrame, pd.DataFrame, list[str]]:
    """The fitted pipeline, its input frame, the patients (split, label) and the background."""
    try:
        from radiopipe.modeling.persistence import load_model
        from radiopipe.modeling.tables import load_model_data
        from radiopipe.modeling.validation import development_patients
    except ImportError as err:  # pragma: no cover - the modelling stage ships with radiopipe
        raise RadiopipeError(f"the explain stage needs radiopipe.modeling ({err})") from None
    model = load_model(inputs.model)
    if FINAL_MODEL not in model.pipelines:
        raise RadiopipeError(
            f"{inputs.model}: no '{FINAL_MODEL}' pipeline (found {sorted(model.pipelines)})"
        )
    card = model.card
    data = load_model_data(
        inputs.features, inputs.manifest, card.get("covariates", []), require_labels=False
    )
    missing = [f for f in model.features if f not in data.features]
    if missing:
        raise InputError(
            f"{len(missing)} feature(s) the model was trained on are missing, e.g. {missing[:5]}",
            file=inputs.features,
        )
    patients = pd.DataFrame({"split": data.splits.astype(str), "label": data.labels.astype(float)})
    background = [str(p) for p in development_patients(data.splits, card["design"])]
    return model.pipelines[FINAL_MODEL], data.X, patients, background


def _threshold(path: Path | None) -> float:
    if path is None:
        return 0.5
    thresholds = json.loads(path.read_text(encoding="utf-8"))
    value = thresholds.get(FINAL_MODEL, 0.5)
    return float(value["threshold"] if isinstance(value, dict) else value)


def _compare_with_predictions(result: ShapResult, inputs: ExplainInputs) -> dict[str, float]:
    """Largest difference between the explained probabilities and the training stage's
    final-model predictions (a check that the explained model is the evaluated one)."""
    path = TrainLayout(inputs.model.parent).predictions
    ex = result.models.get(FINAL_MODEL)
    if ex is None or ex.scale != "probability" or not path.is_file():
        return {}
    table = pd.read_parquet(path)
    rows = table.loc[(table["model"] == FINAL_MODEL) & (table["fold"] == -1)]
    rows = rows.drop_duplicates("patient_id").set_index("patient_id")["probability"]
    common = ex.patients.index.intersection(rows.index)
    if common.empty:
        return {}
    diff = float(np.max(np.abs(ex.patients.loc[common, "output"] - rows.loc[common])))
    if diff > 1e-6:
        log.warning(
            "explained probabilities differ from train/predictions.parquet by up to %.3g: is the "
            "model folder the one that wrote these predictions?",
            diff,
        )
    return {"patients": len(common), "max_abs_difference": diff}
