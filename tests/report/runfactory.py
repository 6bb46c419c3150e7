"""A small but realistic study run folder in the DEVELOPERS.md layout, for the report and
notebook tests: a two-site cohort, contract-named features with a site effect, ICC, the
modelling stage's tables, a fitted pipeline's predictions, ``radiopipe.stats.evaluate``
outputs, SHAP results, segmentation metrics and deep-model overlays."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from radiopipe.atomic import write_parquet
from radiopipe.contracts import (
    PREDICTIONS_COLUMNS,
    PROVENANCE,
    RESOLVED_CONFIG,
    RunLayout,
    Split,
    StageName,
)
from tests.explain.builders import make_pipeline

PARTS = tuple(
    str(s)
    for s in (
        StageName.COHORT, StageName.EXTRACT, StageName.ROBUSTNESS, StageName.TRAIN,
        StageName.EVALUATE, StageName.EXPLAIN, StageName.SEGMENT, StageName.DEEP,
    )
)  # fmt: skip
SEQUENCES = ("t2w", "cet1w")
IMAGES = ("original", "wavelet-LLH", "wavelet-HHH", "log-sigma-2-0-mm-3D", "log-sigma-4-0-mm-3D")
CLASSES = ("firstorder", "glcm", "glrlm")
SPLITS = {Split.TRAIN: (90, "A"), Split.INTERNAL_TEST: (30, "A"), Split.EXTERNAL_TEST: (30, "B")}
MODEL_CONFIG = {
    "seed": 42,
    "design": "auto",
    "n_jobs": 1,
    "cv": {"outer_folds": 5, "outer_repeats": 1, "inner_folds": 5, "stratify_by_site": True},
    "impute": {"enabled": True},
    "constant": {"enabled": True, "threshold": 0.0},
    "icc": {"enabled": True, "table": None, "threshold": 0.8, "missing": "drop"},
    "harmonize": {
        "method": "combat",
        "covariates": ["age"],
        "parametric": True,
        "empirical_bayes": True,
        "mean_only": False,
        "reference_site": None,
        "unseen_site": "estimate",
        "min_site_size": 10,
    },
    "scale": {"method": "standard"},
    "balance": {"method": "smote", "k_neighbors": 5},
    "ttest": {"enabled": True, "alpha": 0.05, "fdr": False, "equal_var": False, "min_features": 2},
    "pearson": {"enabled": True, "threshold": 0.8, "method": "pearson"},
    "lasso": {
        "enabled": True,
        "n_strengths": 20,
        "rule": "best",
        "min_features": 1,
        "max_features": None,
    },
    "learners": {
        "names": ["svm", "rf", "lightgbm", "mlp"],
        "n_trials": 25,
        "timeout_s": 60.0,
        "search_spaces": {},
    },
    "stack": {"meta_C": 1.0},
    "baseline": {"enabled": True},
    "fusion": {"predictions": None, "model": None},
}


def columns() -> list[str]:
    """Feature columns <seq>__<image type>_<class>_<feature> (plus a shape feature each)."""
    names = []
    for seq in SEQUENCES:
        names.append(f"{seq}__original_shape_Sphericity")
        for image in IMAGES:
            names += [
                f"{seq}__{image}_{cls}_{feat}"
                for cls in CLASSES
                for feat in ("Mean", "Contrast")[: 1 if cls == "firstorder" else 2]
            ]
    return names


def _cohort(root: Path, rng: np.random.Generator, splits: dict) -> pd.DataFrame:
    rows, k = [], 0
    for split, (n, site) in splits.items():
        for _ in range(n):
            y = int(rng.random() < 0.55)
            rows.append(
                {
                    "patient_id": f"P{k:03d}",
                    "site": site,
                    "split": str(split),
                    "label": y,
                    "image_t2w": f"images/P{k:03d}_t2w.nii.gz",
                    "image_cet1w": f"images/P{k:03d}_cet1w.nii.gz",
                    "age": int(rng.normal(39 if y else 41, 6)),
                    "funaki_type": rng.choice(
                        ["I", "II", "III"], p=[0.5, 0.3, 0.2] if y else [0.2, 0.4, 0.4]
                    ),
                    "enhancement_grade": rng.choice(["low", "high"]),
                }
            )
            k += 1
    table = pd.DataFrame(rows)
    manifest = RunLayout(root).cohort.manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(manifest, index=False)
    return table


def _features(root: Path, cohort: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    names = columns()
    y = cohort["label"].to_numpy()
    data = rng.normal(size=(len(cohort), len(names)))
    data[:, :6] += 0.75 * (y[:, None] - 0.5)  # outcome signal in a few features
    data[:, 1] += 0.8 * data[:, 0]
    data[cohort["site"].to_numpy() == "B"] = data[cohort["site"].to_numpy() == "B"] * 1.3 + 0.7
    table = pd.DataFrame(data, columns=names)
    table.insert(0, "patient_id", cohort["patient_id"].to_numpy())
    params = {
        "imageType": {"Original": {}, "LoG": {"sigma": [2.0, 4.0]}, "Wavelet": {}},
        "featureClass": {c: None for c in ("shape", *CLASSES)},
        "setting": {
            "binWidth": 5,
            "resampledPixelSpacing": [1, 1, 1],
            "normalize": True,
            "normalizeScale": 100,
        },
    }
    meta = {
        "pyradiomics_params": json.dumps(params),
        "pyradiomics_version": "3.1.0",
        "settings_sha256": "0" * 64,
        "sequences": json.dumps(list(SEQUENCES)),
    }
    layout = RunLayout(root)
    write_parquet(layout.extract.features, table, metadata=meta)
    icc = pd.DataFrame({"feature": names, "icc": np.clip(rng.beta(8, 2, len(names)), 0, 1)})
    icc["ci95_low"], icc["ci95_high"] = icc["icc"] - 0.05, np.minimum(icc["icc"] + 0.05, 1)
    icc["n_patients"], icc["n_raters"] = 90, 2
    icc["sequence"] = [n.split("__")[0] for n in names]
    icc["feature_class"] = [n.split("__")[1].split("_")[1] for n in names]
    icc["filter"] = [n.split("__")[1].split("_")[0].split("-")[0] for n in names]
    icc["source"] = "perturbation"
    write_parquet(layout.robustness.icc, icc)
    return table.set_index("patient_id")


def _record(folder: Path, command: str, config: dict | None, seed: int | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (folder / RESOLVED_CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    record = {
        "command": command,
        "started": "2026-01-01T00:00:00+00:00",
        "radiopipe": "0.1.0",
        "git_commit": "abc123def456",
        "python": "3.11.7",
        "seed": seed,
        "packages": {"scikit-learn": "1.9.1", "shap": "0.49.1"},
        "config_sha256": "f" * 64,
    }
    (folder / PROVENANCE).write_text(json.dumps(record))


def _train(root: Path, cohort: pd.DataFrame, X: pd.DataFrame, rng: np.random.Generator):
    """Fit the pipeline on the training split; write the modelling stage's tables."""
    layout = RunLayout(root).train
    folder = layout.folder
    ids = cohort["patient_id"].to_numpy()
    y = pd.Series(cohort["label"].to_numpy(), index=ids)
    split = pd.Series(cohort["split"].to_numpy(), index=ids)
    train = list(split.index[split == Split.TRAIN])
    pipeline = make_pipeline(k=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(X.loc[train], y.loc[train])
    Z = pipeline[:-1].transform(X)
    stack = pipeline[-1]
    proba = {name: est.predict_proba(Z)[:, 1] for name, est in stack.named_estimators_.items()}
    proba["stack"] = stack.predict_proba(Z)[:, 1]
    proba["lasso_lr"] = np.clip(proba["stack"] + rng.normal(0, 0.15, len(ids)), 0.01, 0.99)
    folds = pd.DataFrame(
        {"patient_id": train, "repeat": 0, "fold": rng.permutation(np.arange(len(train)) % 5)}
    )
    rows = []
    for model, p in proba.items():
        for pid, pp in zip(ids, p, strict=True):
            rows.append((pid, split[pid], -1, model, float(pp), int(y[pid])))
        oof = np.clip(p[: len(train)] + rng.normal(0, 0.12, len(train)), 0.01, 0.99)
        for pid, fold, pp in zip(train, folds["fold"], oof, strict=True):
            rows.append((pid, Split.TRAIN_OOF.value, int(fold), model, float(pp), int(y[pid])))
    predictions = pd.DataFrame(rows, columns=list(PREDICTIONS_COLUMNS))
    write_parquet(layout.predictions, predictions)
    folds.to_csv(layout.folds, index=False)
    layout.thresholds.write_text(json.dumps(dict.fromkeys(proba, 0.5)))
    selected = list(Z.columns)
    funnel = [
        {
            "fold": f,
            "input": X.shape[1],
            "constant": X.shape[1],
            "icc": 40 - f,
            "ttest": 18 - f,
            "pearson": 12,
            "lasso": 8,
        }
        for f in [-1, 0, 1, 2, 3, 4]
    ]
    pd.DataFrame(funnel).to_csv(layout.funnel, index=False)
    sel = [
        (f, name, float(rng.normal()))
        for f in [-1, 0, 1, 2, 3, 4]
        for name in (selected if f < 0 else rng.choice(X.columns, 8, replace=False))
    ]
    pd.DataFrame(sel, columns=["fold", "feature", "lasso_coef"]).to_csv(
        layout.selected_features, index=False
    )
    card = {
        "format_version": 1,
        "design": "fixed_split",
        "features": list(X.columns),
        "models": sorted(proba),
        "covariates": ["age"],
        "n_training_patients": len(train),
    }
    layout.model_dir.mkdir(parents=True, exist_ok=True)
    layout.model.write_text(json.dumps(card))
    _harmonisation(root, cohort, X)
    _record(folder, "train", MODEL_CONFIG, 42)
    return pipeline, predictions, split, y, train


def _harmonisation(root: Path, cohort: pd.DataFrame, X: pd.DataFrame) -> None:
    """The train stage's harmonisation diagnostics, with a ComBat step fitted on every patient
    (the fixture's training patients are all from one site)."""
    from imblearn.pipeline import Pipeline

    from radiopipe.modeling.columns import SITE_COLUMN
    from radiopipe.modeling.harmonise import ComBatHarmoniser
    from radiopipe.modeling.site_effects import write_harmonisation

    sites = pd.Series(cohort["site"].to_numpy(), index=cohort["patient_id"].to_numpy())
    data = X.assign(**{SITE_COLUMN: sites.loc[X.index].to_numpy()})
    combat = Pipeline([("harmonise", ComBatHarmoniser(min_site_size=2))]).fit(data)
    layout = RunLayout(root)
    write_harmonisation(
        layout.train.folder, layout.extract.features, sites, "combat", combat, data, seed=0
    )


def _evaluate(root: Path, predictions: pd.DataFrame) -> None:
    from radiopipe.config.evaluate import EvaluateConfig
    from radiopipe.pipeline.engine import run_single
    from radiopipe.pipeline.model_stages import evaluate_stage

    config = EvaluateConfig(
        n_bootstrap=200,
        seed=3,
        roc_grid_points=51,
        decision_curve={"start": 0.05, "stop": 0.95, "step": 0.05},
    )
    layout = RunLayout(root)
    merged = layout.evaluate.predictions
    write_parquet(merged, predictions)
    # Through the stage engine, as in a run: it writes the stage's resolved config and record.
    given = {
        "train": {"predictions": merged, "thresholds": layout.train.thresholds},
        "cohort": {"manifest": layout.cohort.manifest},
    }
    run_single(evaluate_stage(config, combine=False), layout.evaluate.folder, given=given)


def _explain(root: Path, pipeline, X, split, y, train) -> None:
    from radiopipe.config.explain import ExplainConfig
    from radiopipe.explain import explain_pipeline
    from radiopipe.explain.outputs import write_result

    config = ExplainConfig(
        background_size=20, n_jobs=1, waterfall_examples=1, models=["stack", "rf"], max_display=8
    )
    patients = pd.DataFrame({"split": split, "label": y})
    result = explain_pipeline(pipeline, X, patients, train, config)
    folder = RunLayout(root).explain.folder
    write_result(result, folder, threshold=0.5)
    _record(folder, "radiopipe explain", config.model_dump(mode="json"), 0)


def _png(path: Path, seed: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (np.random.default_rng(seed).random((60, 120, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)


def _segment(root: Path, cohort: pd.DataFrame, rng: np.random.Generator) -> None:
    layout = RunLayout(root).segment
    rows = [
        {
            "patient_id": p,
            "sequence": s,
            "split": sp,
            "dice": float(np.clip(rng.normal(0.85, 0.06), 0, 1)),
            "hd95_mm": float(abs(rng.normal(4, 2))),
            "msd_mm": 1.0,
            "volume_diff_ml": 0.5,
            "volume_diff_pct": 2.0,
        }
        for p, sp in zip(cohort["patient_id"], cohort["split"], strict=True)
        for s in SEQUENCES
    ]
    layout.evaluation.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(layout.metrics, index=False)
    qc = pd.DataFrame({"patient_id": cohort["patient_id"], "flags": ""})
    qc.loc[:2, "flags"] = "small;border"
    qc.to_csv(layout.qc, index=False)
    for i, seq in enumerate(SEQUENCES):
        _png(layout.evaluation / f"overlays_{seq}.png", i)


def _deep(root: Path, cohort: pd.DataFrame) -> None:
    folder = RunLayout(root).deep.model("densenet").explanations
    picked = cohort.loc[cohort["split"] == Split.EXTERNAL_TEST].head(2)
    index = pd.DataFrame(
        {
            "patient_id": picked["patient_id"],
            "split": picked["split"],
            "fold": -1,
            "label": picked["label"],
            "probability": [0.8, 0.3],
            "model": "densenet",
            "method": "grad_cam",
            "slice": 10,
            "lesion_focus": 0.7,
            "file": [f"densenet_{p}.png" for p in picked["patient_id"]],
        }
    )
    for i, name in enumerate(index["file"]):
        _png(folder / name, 10 + i)
    index.to_csv(RunLayout(root).deep.model("densenet").explanations_index, index=False)


def build_run(
    root: Path, parts: tuple[str, ...] = PARTS, seed: int = 0, splits: dict | None = None
) -> Path:
    """Write a study run folder with the chosen parts into ``root``.

    ``splits``: ``{split: (patients, site)}`` (default: 90 / 30 / 30 as SPLITS).
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    cohort = _cohort(root, rng, splits or SPLITS)
    X = _features(root, cohort, rng)
    pipeline, predictions, split, y, train = _train(root, cohort, X, rng)
    _evaluate(root, predictions)
    _explain(root, pipeline, X, split, y, train)
    _segment(root, cohort, rng)
    _deep(root, cohort)
    _record(root, "radiopipe run pipelines/demo.yaml", {"name": root.name}, 42)
    for part in PARTS:
        if part not in parts:
            shutil.rmtree(root / part, ignore_errors=True)
    return root
