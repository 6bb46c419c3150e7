"""Builders shared by the SHAP, report and notebook tests: contract-named features, a small
pipeline like radiopipe's (scale, SMOTE, selection, a stack of SVM, RF, LightGBM and MLP),
and exact Shapley values by enumeration."""

from __future__ import annotations

import numpy as np
import pandas as pd

SEQUENCES = ("t2w", "cet1w")
IMAGE_TYPES = ("original", "wavelet-LLH", "log-sigma-2-0-mm-3D")
CLASSES = ("firstorder", "glcm", "shape")


def feature_names(n_per_group: int = 1) -> list[str]:
    """Contract column names <seq>__<image type>_<class>_<feature>."""
    names = []
    for seq in SEQUENCES:
        for image in IMAGE_TYPES:
            for cls in CLASSES:
                if cls == "shape" and image != "original":
                    continue
                names += [f"{seq}__{image}_{cls}_F{k}" for k in range(n_per_group)]
    return names


def make_data(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Features (index patient_id), outcome, and the patients table (split, label)."""
    rng = np.random.default_rng(seed)
    columns = feature_names()
    ids = [f"P{i:03d}" for i in range(n)]
    X = pd.DataFrame(rng.normal(size=(n, len(columns))), index=ids, columns=columns)
    X.index.name = "patient_id"
    signal = (
        X.iloc[:, 0] + 0.8 * X.iloc[:, 3] - 0.6 * X.iloc[:, 8] + 0.5 * X.iloc[:, 0] * X.iloc[:, 3]
    )
    y = (signal + rng.normal(scale=0.8, size=n) > 0).astype(int)
    split = np.where(np.arange(n) < int(0.7 * n), "train", "internal_test")
    split[int(0.85 * n) :] = "external_test"
    patients = pd.DataFrame({"split": split, "label": y.to_numpy()}, index=X.index)
    return X, y, patients


def make_pipeline(k: int = 6, seed: int = 0):
    """Scaler -> SMOTE -> SelectKBest -> stacking ensemble (imblearn Pipeline, unfitted)."""
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import Pipeline
    from lightgbm import LGBMClassifier
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier, StackingClassifier
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    learners = [
        ("svm", CalibratedClassifierCV(SVC(random_state=seed), cv=3, ensemble=False)),
        ("rf", RandomForestClassifier(30, max_depth=4, random_state=seed, n_jobs=1)),
        ("lightgbm", LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1, random_state=seed)),
        ("mlp", MLPClassifier((8,), solver="lbfgs", max_iter=300, random_state=seed)),
    ]
    return Pipeline(
        [
            ("scale", StandardScaler().set_output(transform="pandas")),
            ("balance", SMOTE(random_state=seed)),
            ("select", SelectKBest(f_classif, k=k).set_output(transform="pandas")),
            ("model", StackingClassifier(learners, LogisticRegression(), cv=3)),
        ]
    )


def exact_shapley(f, X: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Interventional Shapley values by enumerating every coalition (tiny feature counts only)."""
    from itertools import combinations
    from math import factorial

    n, m = X.shape
    out = np.zeros((n, m))
    for i in range(n):
        value = {}
        for size in range(m + 1):
            for subset in combinations(range(m), size):
                hybrid = background.copy()
                hybrid[:, list(subset)] = X[i, list(subset)]
                value[subset] = f(hybrid).mean()
        for j in range(m):
            others = [k for k in range(m) if k != j]
            for size in range(m):
                weight = factorial(size) * factorial(m - size - 1) / factorial(m)
                for subset in combinations(others, size):
                    with_j = tuple(sorted((*subset, j)))
                    out[i, j] += weight * (value[with_j] - value[subset])
    return out
