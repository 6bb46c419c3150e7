"""How much of the available signal a pipeline recovers, on a cohort whose answer is known.

The synthetic cohort (``radiopipe synth``) writes ``truth.csv`` beside its manifest: each
patient's hidden tissue properties and true outcome probability. The true probability is the
best any model can do (the oracle): its AUC on a split is the ceiling, and a model's
``recovered = (auc - 0.5) / (oracle_auc - 0.5)`` is the share of the available discrimination
it reaches (1: all of it; 0: chance). ``spearman_true`` says how well the model ranks patients
by their true risk, which AUC on a few dozen patients cannot resolve.

For real cohorts there is no truth file and nothing here runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from radiopipe.stats.predictions import models_in, scores, splits_in

log = logging.getLogger(__name__)

TRUTH_FILE = "truth.csv"
KNOWN_ANSWER_COLUMNS = (
    "split", "model", "n", "auc", "oracle_auc", "recovered", "spearman_true",
)  # fmt: skip
FEATURE_COLUMNS = ("feature", "property", "spearman", "n_patients", "selected_in_folds")
# truth.csv columns that describe the patient, not the outcome model's output
NOT_PROPERTIES = {"patient_id", "site", "split", "label", "probability", "linear_predictor"}


def find_truth(manifest: str | Path | None) -> Path | None:
    """``truth.csv`` beside the cohort's manifest, or None (a real cohort)."""
    if manifest is None:
        return None
    path = Path(manifest).parent / TRUTH_FILE
    return path if path.is_file() else None


def read_truth(path: str | Path) -> pd.DataFrame:
    """The truth table indexed by patient id (string)."""
    table = pd.read_csv(path, dtype={"patient_id": str})
    if "patient_id" not in table or "probability" not in table:
        raise ValueError(f"{path}: a truth table needs patient_id and probability columns")
    return table.set_index("patient_id")


def known_answer(predictions: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """One row per split and model: AUC, oracle AUC, share recovered, Spearman with the truth.

    Pooled splits use each patient's mean probability over CV repeats (as every other
    statistic does); patients absent from ``truth`` are left out with a warning.
    """
    rows = []
    for split in splits_in(predictions):
        for model in models_in(predictions.loc[predictions["split"] == split]):
            found = scores(predictions, model, split, both_classes=False)
            known = np.isin(found.patient_ids, truth.index)
            if not known.all():
                log.warning("known answer: %d patient(s) of %s have no truth row",
                            int((~known).sum()), found.where)  # fmt: skip
            y, p = found.y[known], found.p[known]
            true_p = truth.loc[found.patient_ids[known], "probability"].to_numpy(float)
            rows.append({"split": split, "model": model, "n": int(known.sum()),
                         **_recovery(y, p, true_p)})  # fmt: skip
    return pd.DataFrame(rows, columns=list(KNOWN_ANSWER_COLUMNS))


def _recovery(y: np.ndarray, p: np.ndarray, true_p: np.ndarray) -> dict[str, float]:
    nan = float("nan")
    if y.size < 3 or len(np.unique(y)) < 2:
        return {"auc": nan, "oracle_auc": nan, "recovered": nan, "spearman_true": nan}
    auc = float(roc_auc_score(y, p))
    oracle = float(roc_auc_score(y, true_p))
    recovered = (auc - 0.5) / (oracle - 0.5) if oracle > 0.5 else nan
    rho = spearmanr(p, true_p).statistic if np.ptp(p) > 0 else nan
    return {"auc": auc, "oracle_auc": oracle, "recovered": float(recovered),
            "spearman_true": float(rho)}  # fmt: skip


def _is_property(column: pd.Series) -> bool:
    """A hidden tissue or patient property (not the outcome model's output, not motion)."""
    name = str(column.name)
    numeric = pd.api.types.is_numeric_dtype(column)
    return numeric and name not in NOT_PROPERTIES and not name.startswith("motion")


def known_answer_features(
    features: pd.DataFrame,
    selected: pd.DataFrame,
    truth: pd.DataFrame,
    patients: list[str] | None = None,
) -> pd.DataFrame:
    """Each selected feature's Spearman correlation with each hidden property.

    ``features``: the feature table (``patient_id`` column or index); ``selected``: the train
    stage's ``selected_features.csv`` (``fold, feature``; fold -1 is the final model);
    ``patients``: whose values to correlate (default: every patient with a truth row).
    Rows are the final model's features first, by the strength of their best correlation.
    """
    table = features.set_index("patient_id") if "patient_id" in features else features
    table.index = table.index.astype(str)
    ids = [p for p in (patients or list(table.index)) if p in truth.index and p in table.index]
    properties = [c for c in truth.columns if _is_property(truth[c])]
    folds = selected[selected["fold"] >= 0].groupby("feature")["fold"].nunique()
    final = list(dict.fromkeys(selected.loc[selected["fold"] < 0, "feature"]))
    others = [f for f in folds.index if f not in final]
    rows = []
    for feature in [f for f in [*final, *others] if f in table.columns]:
        values = table.loc[ids, feature].to_numpy(float)
        for prop in properties:
            target = truth.loc[ids, prop].to_numpy(float)
            ok = np.isfinite(values) & np.isfinite(target)
            rho = float("nan")
            if ok.sum() >= 3 and np.ptp(values[ok]) > 0 and np.ptp(target[ok]) > 0:
                rho = float(spearmanr(values[ok], target[ok]).statistic)
            rows.append({"feature": feature, "property": prop, "spearman": rho,
                         "n_patients": int(ok.sum()),
                         "selected_in_folds": int(folds.get(feature, 0))})  # fmt: skip
    out = pd.DataFrame(rows, columns=list(FEATURE_COLUMNS))
    if out.empty:
        return out
    strength = out.assign(a=out["spearman"].abs()).groupby("feature")["a"].max()
    rank = {f: (f not in final, -strength.get(f, 0.0)) for f in out["feature"].unique()}
    order = sorted(rank, key=lambda f: rank[f])
    out["feature"] = pd.Categorical(out["feature"], categories=order, ordered=True)
    out = out.sort_values(["feature", "property"], kind="mergesort")
    out["feature"] = out["feature"].astype(str)
    return out.reset_index(drop=True)
