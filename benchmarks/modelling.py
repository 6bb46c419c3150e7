"""Nested-CV AUC of the radiopipe stack on the radMLBench tables, next to the benchmark's own
(optimistic) reference AUC and a plain LASSO-logistic baseline under the same folds, with wall
time; plus a study-sized synthetic case (300 patients x 2400 features, 2 scanners) timed
end to end (nested CV + final model), which must train in under 10 minutes on 2 cores; plus
ComBat on that table, radiopipe's transformer against neuroHarmonize (the reference tool) run
in the same process: time ratio and largest difference of the harmonised values.

    python benchmarks/modelling.py [--config configs/model/paper.yaml] [--datasets A,B]
                                   [--n-jobs 2] [--out runs/benchmark-modelling]

Timings depend on machine load; the script prints the load average next to them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from radiopipe.config import load_config  # noqa: E402
from radiopipe.config.model import ModelConfig  # noqa: E402
from radiopipe.modeling.training import train  # noqa: E402
from radiopipe.synth.feature_table import simulate_cohort, write_cohort  # noqa: E402

RADMLBENCH = REPO.parent / "shared" / "refdata" / "radmlbench"
SYNTHETIC = "synthetic-300x2400"
BUDGET_S = 600.0


def auc_summary(predictions: pd.DataFrame, model: str) -> tuple[float, float]:
    """Pooled out-of-fold AUC and the mean of the per-fold AUCs of one model."""
    rows = predictions[(predictions["split"] == "cv") & (predictions["model"] == model)]
    pooled = roc_auc_score(rows["label"].astype(int), rows["probability"])
    per_fold = [
        roc_auc_score(g["label"].astype(int), g["probability"]) for _, g in rows.groupby("fold")
    ]
    return float(pooled), float(np.mean(per_fold))


def synthetic_case(folder: Path) -> tuple[Path, Path]:
    """A study-sized cohort: 300 patients, 2400 features, 2 scanners, a modest signal."""
    cohort = simulate_cohort(
        n_patients=300,
        n_features=2400,
        n_informative=20,
        effect=0.22,
        n_sites=2,
        site_shift=1.0,
        site_scale=0.3,
        n_factors=60,
        seed=2025,
    )
    cohort.clinical["split"] = ""  # nested CV over all patients, like the radMLBench tables
    return write_cohort(cohort, folder)


def combat_comparison(features: Path, manifest: Path, repeats: int = 3) -> dict[str, float]:
    """ComBat fit + transform on all patients: radiopipe vs neuroHarmonize, best of ``repeats``."""
    import contextlib
    import io
    import warnings

    from neuroHarmonize import harmonizationLearn

    from radiopipe.modeling.harmonise import ComBatHarmoniser

    table = pd.read_parquet(features).set_index("patient_id")
    sites = pd.read_csv(manifest).set_index("patient_id").loc[table.index, "site"].astype(str)
    frame = table.assign(meta__site=sites.to_numpy())
    covars = pd.DataFrame({"SITE": sites.to_numpy()})
    ours_s, theirs_s = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        ours = ComBatHarmoniser().fit(frame).transform(frame).to_numpy()
        ours_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, theirs = harmonizationLearn(table.to_numpy(dtype=np.float64), covars)
        theirs_s.append(time.perf_counter() - start)
    return {
        "radiopipe_s": min(ours_s),
        "neuroharmonize_s": min(theirs_s),
        "ratio": min(ours_s) / min(theirs_s),
        "max_abs_diff": float(np.abs(ours - theirs).max()),
        "shape": table.shape,
    }


def run_case(name: str, features: Path, manifest: Path | None, config: ModelConfig, out: Path):
    """Train one case; return its row of the results table."""
    start = time.perf_counter()
    result = train(features, manifest, config, out / name)
    wall = time.perf_counter() - start
    stack, stack_folds = auc_summary(result.predictions, "stack")
    lasso, lasso_folds = auc_summary(result.predictions, "lasso_lr")
    n = result.predictions["patient_id"].nunique()
    p = int(result.funnel["input"].iloc[0])
    return {
        "dataset": name,
        "patients": n,
        "features": p,
        "stack_auc": stack,
        "stack_fold_mean": stack_folds,
        "lasso_lr_auc": lasso,
        "lasso_lr_fold_mean": lasso_folds,
        "wall_s": wall,
        "final_lasso_features": int(result.funnel["lasso"].iloc[-1]),
        "cpu_s": result.cpu_seconds,
    }


def main() -> None:
    """Run every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "model" / "paper.yaml")
    parser.add_argument("--datasets", default="", help="Comma-separated subset (default: all).")
    parser.add_argument("--n-jobs", type=int, default=None, help="Outer folds in parallel.")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "benchmark-modelling")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    config = load_config(args.config, ModelConfig)
    overrides = {"design": "nested_cv"}
    if args.n_jobs is not None:
        overrides["n_jobs"] = args.n_jobs
    config = config.model_copy(update=overrides)
    reference = json.loads((RADMLBENCH / "reference_auc.json").read_text(encoding="utf-8"))
    wanted = [d for d in args.datasets.split(",") if d] or [SYNTHETIC, *reference]
    print(
        f"config {args.config.name}: outer {config.cv.outer_folds}x{config.cv.outer_repeats}, "
        f"inner {config.cv.inner_folds}, {config.learners.n_trials} trials / "
        f"{config.learners.timeout_s} s per learner, n_jobs {config.n_jobs}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    if SYNTHETIC in wanted:
        features, manifest = synthetic_case(args.out / "data")
        combat = combat_comparison(features, manifest)
        print(
            f"ComBat on {combat['shape'][0]} x {combat['shape'][1]} (2 sites, parametric EB): "
            f"radiopipe {combat['radiopipe_s']:.2f} s, neuroHarmonize "
            f"{combat['neuroharmonize_s']:.2f} s, ratio {combat['ratio']:.2f}; "
            f"max |difference| {combat['max_abs_diff']:.1e}",
            flush=True,
        )
    rows = []
    for name in wanted:
        if name == SYNTHETIC:
            features, manifest = synthetic_case(args.out / "data")
        else:
            features, manifest = RADMLBENCH / f"{name}.csv.gz", None
        row = run_case(name, features, manifest, config, args.out)
        row["reference_auc"] = reference.get(name, float("nan"))
        row["load_1min"] = os.getloadavg()[0]
        rows.append(row)
        print(
            f"{name}: stack {row['stack_auc']:.3f}, lasso_lr {row['lasso_lr_auc']:.3f}, "
            f"reference {row['reference_auc']:.3f}, {row['wall_s']:.0f} s",
            flush=True,
        )
    table = pd.DataFrame(rows)
    table["stack_vs_lasso"] = table["stack_auc"] - table["lasso_lr_auc"]
    table["stack_vs_reference"] = table["stack_auc"] / table["reference_auc"]
    columns = [
        "dataset",
        "patients",
        "features",
        "reference_auc",
        "stack_auc",
        "stack_fold_mean",
        "lasso_lr_auc",
        "stack_vs_lasso",
        "stack_vs_reference",
        "final_lasso_features",
        "wall_s",
        "cpu_s",
        "load_1min",
    ]
    print()
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    table[columns].to_csv(args.out / "results.csv", index=False)
    synthetic = table[table["dataset"] == SYNTHETIC]
    if len(synthetic):
        wall = float(synthetic["wall_s"].iloc[0])
        verdict = "within" if wall < BUDGET_S else "OVER"
        print(f"\n300 x 2400 case: {wall:.0f} s ({verdict} the {BUDGET_S:.0f} s budget)")


if __name__ == "__main__":
    main()
