"""Clinical comparisons: does the imaging add to the clinical model? (``clinical_comparisons.csv``)

For each pair (``model`` against ``reference``) of the clinical family (``clinical``,
``radscore``, ``stack``, ``combined`` and any deep or fused model run), on every split but the
apparent ``train``: paired DeLong of the AUC difference (Holm over the pairs of the split),
the category-free net reclassification improvement (NRI, Pencina 2011)::

    NRI = [P(up | event) - P(down | event)] + [P(down | non-event) - P(up | non-event)]

(``up``: the model gives a higher probability than the reference) and the integrated
discrimination improvement (IDI = mean increase of the probability in events minus that in
non-events), each with a stratified percentile bootstrap CI (the evaluate settings' resamples
and per-split seed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radiopipe.contracts import Split
from radiopipe.stats.bootstrap import StratifiedBootstrap, percentile_ci
from radiopipe.stats.comparisons import split_seed
from radiopipe.stats.delong import delong_test
from radiopipe.stats.multiplicity import holm
from radiopipe.stats.predictions import models_in, paired, splits_in

CLINICAL_FAMILY = ("clinical", "radscore", "stack", "combined")
EXTRA_MODELS = ("stack_fusion", "densenet", "resnet", "vit")
COLUMNS = (
    "split",
    "model",
    "reference",
    "n",
    "n_cases",
    "n_controls",
    "auc_model",
    "auc_reference",
    "auc_difference",
    "delong_p",
    "p_holm",
    "nri",
    "nri_ci_low",
    "nri_ci_high",
    "nri_events",
    "nri_non_events",
    "idi",
    "idi_ci_low",
    "idi_ci_high",
    "n_resamples",
    "confidence",
)


def family_pairs(models: list[str]) -> list[tuple[str, str]]:
    """(model, reference) pairs: each later model of the family against each earlier one."""
    order = [m for m in (*CLINICAL_FAMILY, *EXTRA_MODELS) if m in models]
    return [(order[j], order[i]) for j in range(len(order)) for i in range(j)]


def nri_idi(y: np.ndarray, new: np.ndarray, old: np.ndarray) -> dict[str, float]:
    """Category-free NRI (with its event and non-event parts) and IDI."""
    y = np.asarray(y, dtype=int)
    sign = np.sign(np.asarray(new, float) - np.asarray(old, float))
    diff = np.asarray(new, float) - np.asarray(old, float)
    events, non_events = float(sign[y == 1].mean()), float(-sign[y == 0].mean())
    return {
        "nri": events + non_events,
        "nri_events": events,
        "nri_non_events": non_events,
        "idi": float(diff[y == 1].mean() - diff[y == 0].mean()),
    }


def bootstrap_nri_idi(
    y: np.ndarray, new: np.ndarray, old: np.ndarray, n_resamples: int, seed: object
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified bootstrap replicates of the NRI and the IDI."""
    boot = StratifiedBootstrap(y, n_resamples, seed)
    sign = np.sign(np.asarray(new, float) - np.asarray(old, float))
    diff = np.asarray(new, float) - np.asarray(old, float)
    cases, controls = boot.case_rows, boot.control_rows
    nri, idi = [], []
    for c, d in boot.blocks():
        nri.append(sign[cases][c].mean(axis=1) - sign[controls][d].mean(axis=1))
        idi.append(diff[cases][c].mean(axis=1) - diff[controls][d].mean(axis=1))
    return np.concatenate(nri), np.concatenate(idi)


def clinical_comparisons(
    frame: pd.DataFrame, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """The comparison table (empty when the predictions hold no clinical model)."""
    rows = []
    for split in splits_in(frame):
        if split == Split.TRAIN:
            continue
        models = models_in(frame.loc[frame["split"] == split])
        if "clinical" not in models:
            continue
        part = []
        for model, reference in family_pairs(models):
            a, b = paired(frame, split, [model, reference])
            test = delong_test(a.y, a.p, b.p, confidence, where=f"split {split}")
            point = nri_idi(a.y, a.p, b.p)
            nri, idi = bootstrap_nri_idi(a.y, a.p, b.p, n_resamples, split_seed(seed, split))
            nri_ci, idi_ci = percentile_ci(nri, confidence), percentile_ci(idi, confidence)
            part.append(
                {
                    "split": split,
                    "model": model,
                    "reference": reference,
                    "n": len(a.y),
                    "n_cases": int(a.y.sum()),
                    "n_controls": int((1 - a.y).sum()),
                    "auc_model": test.auc_a,
                    "auc_reference": test.auc_b,
                    "auc_difference": test.difference,
                    "delong_p": test.p_value,
                    **point,
                    "nri_ci_low": float(nri_ci[0]),
                    "nri_ci_high": float(nri_ci[1]),
                    "idi_ci_low": float(idi_ci[0]),
                    "idi_ci_high": float(idi_ci[1]),
                    "n_resamples": n_resamples,
                    "confidence": confidence,
                }
            )
        adjusted = holm([r["delong_p"] for r in part])
        for row, p in zip(part, adjusted, strict=True):
            row["p_holm"] = float(p)
        rows += part
    return pd.DataFrame(rows, columns=list(COLUMNS))
