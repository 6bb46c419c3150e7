"""Predictive accuracy of the model presets on real radiomics tables: an ablation (issue 17).

For each table (the radMLBench tables in ../shared/refdata and a synthetic known-answer cohort)
and each fitted variant, repeated stratified outer CV of the whole pipeline (every step inside
the training folds), then per model: pooled out-of-fold AUC with its DeLong CI, per-fold AUCs,
a paired DeLong comparison against the paper preset's stack, and wall time.

Fitted variants (each changes one thing, then ``auto`` is all of them):

    paper            configs/model/paper.yaml (SMOTE, t-test + Pearson + LASSO, 4 learners,
                     logistic meta-learner); a logreg learner is fitted alongside so that
                     the meta-learner ablation below is free
    paper_cw         paper with class weights instead of SMOTE
    depth            class weights, no t-test/LASSO cut, Pearson 0.9, selection depth tuned
                     by each learner in the inner CV
    auto             configs/model/auto.yaml

Meta-learner ablation, computed from each fitted variant's base learners without refitting:
``stack_<method><subset>`` with method logistic / nonneg / mean / select, subset ``4`` (the
four paper learners; ``stack_logistic4`` = paper's stack) or ``5`` (with the logreg learner),
fitted on the out-of-fold probabilities of the folds the learners were tuned on; for a variant
with ``stack.oof_split: fresh`` (auto) also ``..._fresh``, fitted on the chosen configurations'
out-of-fold probabilities on a second inner split. ``stack`` is the variant's own setting.

    python benchmarks/accuracy.py [--tables A,B] [--variants paper,auto] [--trials 25]
                                  [--repeats 1] [--folds 5] [--quick] [--out DIR]
                                  [--table-dir DIR]

``--table-dir``: where the tables are (default ../shared/refdata/radmlbench): any folder of
radMLBench-format tables (``<name>.csv.gz``, ``.csv`` or ``.parquet`` with ``ID``, ``Target``
and the features), so the same targets can be checked on tables the repository does not hold;
an optional ``reference_auc.json`` there gives radMLBench's best-of-grid AUC per table.

``--quick``: 8 trials, 1 repeat, a 150 x 600 synthetic cohort (a smoke-sized ablation).
Targets (printed PASS/MISS): the auto stack's mean AUC over the radMLBench tables is at least
lasso_lr's and the best single base learner's; WORC-Desmoid >= 0.82, WORC-Lipo >= 0.83 (WORC's
published AUCs); the 300 x 2400 synthetic case trains within 10 minutes (benchmarks/modelling.py
--config configs/model/auto.yaml measures that, end to end).
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
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from radiopipe.config import load_config  # noqa: E402
from radiopipe.config.model import ModelConfig  # noqa: E402
from radiopipe.modeling.combiners import meta_learner  # noqa: E402
from radiopipe.modeling.diagnostics import predict_models  # noqa: E402
from radiopipe.modeling.pipeline_factory import build_baseline, build_pipeline  # noqa: E402
from radiopipe.modeling.tables import load_model_data  # noqa: E402
from radiopipe.stats.delong import auc_delong, delong_test  # noqa: E402

RADMLBENCH = REPO.parent / "shared" / "refdata" / "radmlbench"
SYNTHETIC = "synthetic"
# WORC's published AUCs (Starmans et al., 2021) on the cohorts radMLBench republishes
WORC_PUBLISHED = {"WORC-Desmoid": 0.82, "WORC-Lipo": 0.83, "WORC-CRLM": 0.68, "WORC-GIST": 0.77}
TABLE_SUFFIXES = (".csv.gz", ".csv", ".parquet")
PAPER4 = ["svm", "rf", "lightgbm", "mlp"]
META_METHODS = ("logistic", "nonnegative", "mean", "select")
REFERENCE = "paper:stack_logistic4"  # the published recipe: 4 learners, logistic meta


def variant_configs(trials: int, folds: int, inner: int) -> dict[str, ModelConfig]:
    """The fitted variants, with the budget of this run (trial count decides, no time cap)."""
    paper = load_config(REPO / "configs" / "model" / "paper.yaml", ModelConfig).model_dump()
    auto = load_config(REPO / "configs" / "model" / "auto.yaml", ModelConfig).model_dump()

    def with_budget(data: dict, **changes: dict) -> ModelConfig:
        data = json.loads(json.dumps(data, default=str))
        for section, values in changes.items():
            data[section].update(values)
        data["learners"].update(n_trials=trials, timeout_s=None)
        data["cv"].update(outer_folds=folds, inner_folds=inner)
        return ModelConfig.model_validate(data)

    five = {"names": [*PAPER4, "logreg"]}
    return {
        "paper": with_budget(paper, learners=five),
        "paper_cw": with_budget(paper, learners=five, balance={"method": "class_weight"}),
        "depth": with_budget(
            paper,
            learners={**five, "tune_features": True, "max_features": 100},
            balance={"method": "class_weight"},
            ttest={"enabled": False},
            lasso={"enabled": False},
            pearson={"threshold": 0.9},
        ),
        "auto": with_budget(auto),
    }


def table_path(folder: Path, name: str) -> Path:
    """The file of table ``name`` in ``folder`` (``.csv.gz``, ``.csv`` or ``.parquet``)."""
    for suffix in TABLE_SUFFIXES:
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    tried = ", ".join(name + suffix for suffix in TABLE_SUFFIXES)
    raise SystemExit(f"error: no table {name!r} in {folder} (looked for {tried})")


def tables_in(folder: Path, reference: dict[str, float]) -> list[str]:
    """The table names in ``folder``: those of ``reference`` (reference_auc.json) first, in its
    order, then the rest sorted."""
    found = {p.name[: -len(s)] for p in folder.iterdir() for s in TABLE_SUFFIXES
             if p.is_file() and p.name.endswith(s)}  # fmt: skip
    listed = [t for t in reference if t in found]
    return listed + sorted(found - set(listed))


def reference_aucs(folder: Path) -> dict[str, float]:
    """radMLBench's best-of-grid AUC per table, from ``folder/reference_auc.json`` if there."""
    path = folder / "reference_auc.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_table(name: str, out: Path, synthetic_size: tuple[int, int], folder: Path = RADMLBENCH):
    """``(X, y, has_sites)`` of a radMLBench-format table or the synthetic known-answer cohort."""
    if name == SYNTHETIC:
        from radiopipe.synth.feature_table import simulate_cohort, write_cohort

        n, p = synthetic_size
        cohort = simulate_cohort(
            n_patients=n, n_features=p, n_informative=20, effect=0.22, n_sites=2,
            site_shift=1.0, site_scale=0.3, n_factors=max(5, p // 40), seed=2025,
        )  # fmt: skip
        cohort.clinical["split"] = ""
        features, manifest = write_cohort(cohort, out / "data")
    else:
        features, manifest = table_path(folder, name), None
    data = load_model_data(features, manifest, [], require_labels=True)
    return data.X, data.labels.to_numpy(dtype=int), data.has_sites


def fold_predictions(pipeline, baseline, X_test) -> dict[str, np.ndarray]:
    """Every model's test probabilities, plus the meta-learner ablation on the same learners:
    ``stack_<method><subset>`` fitted on the tuning split's out-of-fold probabilities and, when
    the learners kept a second split's (``stack.oof_split: fresh``), ``..._fresh`` on those."""
    out = predict_models(pipeline, baseline, X_test)
    stack = pipeline[-1]
    names = list(stack.named_learners_)
    learners = [stack.named_learners_[n] for n in names]
    sources = {"": [est.tuning_oof_proba_ for est in learners]}
    if any(est.oof_split == "fresh" for est in learners):
        sources["_fresh"] = [est.oof_proba_ for est in learners]
    base = np.column_stack([out[n] for n in names])
    subsets = {"4": PAPER4, "5": names} if set(PAPER4) < set(names) else {"": names}
    for source, columns in sources.items():
        inner = np.column_stack(columns)
        inner = inner[np.isfinite(inner).all(axis=1)]
        for label, subset in subsets.items():
            cols = [names.index(n) for n in subset]
            for method in META_METHODS:
                meta = meta_learner(method, 1.0).fit(inner[:, cols], stack.inner_y_)
                short = "nonneg" if method == "nonnegative" else method
                out[f"stack_{short}{label}{source}"] = meta.predict_proba(base[:, cols])[:, 1]
    return out


def run_variant(X, y, has_sites, config, repeats, seed) -> tuple[pd.DataFrame, float]:
    """Long OOF rows (repeat, fold, patient, model, probability, label) and wall time."""
    rows, started = [], time.perf_counter()
    for repeat in range(repeats):
        splitter = StratifiedKFold(config.cv.outer_folds, shuffle=True, random_state=seed + repeat)
        for fold, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
            unit_seed = seed + 1000 * repeat + fold
            with threadpool_limits(limits=1):
                pipe = build_pipeline(config, unit_seed, has_sites).fit(X.iloc[train], y[train])
                base = build_baseline(config, unit_seed, has_sites).fit(X.iloc[train], y[train])
                probs = fold_predictions(pipe, base, X.iloc[test])
            for model, values in probs.items():
                rows.append(pd.DataFrame({
                    "repeat": repeat, "fold": fold, "patient": X.index[test], "model": model,
                    "probability": values, "label": y[test],
                }))  # fmt: skip
    return pd.concat(rows, ignore_index=True), time.perf_counter() - started


def summarise(oof: pd.DataFrame) -> pd.DataFrame:
    """Per table and model: pooled AUC (patient mean over repeats) with DeLong CI, per-fold
    AUC mean and SD, per-repeat AUC spread, paired DeLong difference against paper's stack."""
    out = []
    for table, rows in oof.groupby("table", sort=False):
        pooled = rows.groupby(["model", "patient"]).agg(p=("probability", "mean"),
                                                        y=("label", "first"))  # fmt: skip
        ref = pooled.loc[REFERENCE] if REFERENCE in pooled.index.get_level_values(0) else None
        for model, group in rows.groupby("model", sort=False):
            scores = pooled.loc[model]
            auc = auc_delong(scores["y"], scores["p"])
            folds = [roc_auc_score(g["label"], g["probability"])
                     for _, g in group.groupby(["repeat", "fold"])]  # fmt: skip
            per_repeat = [roc_auc_score(g["label"], g["probability"])
                          for _, g in group.groupby("repeat")]  # fmt: skip
            row = {
                "table": table, "model": model, "auc": auc.auc, "ci_low": auc.ci_low,
                "ci_high": auc.ci_high, "fold_mean": np.mean(folds), "fold_sd": np.std(folds),
                "repeat_sd": np.std(per_repeat), "diff_vs_paper": np.nan, "p_vs_paper": np.nan,
            }  # fmt: skip
            if ref is not None and model != REFERENCE:
                test = delong_test(scores["y"], scores["p"], ref.loc[scores.index, "p"])
                row.update(diff_vs_paper=test.difference, p_vs_paper=test.p_value)
            out.append(row)
    return pd.DataFrame(out)


def verdicts(summary: pd.DataFrame, tables: list[str]) -> list[tuple[str, float, float, bool]]:
    """``(target, value, bound, met)`` of the issue's accuracy targets (auto variant)."""
    real = summary[summary["table"].isin([t for t in tables if t != SYNTHETIC])]
    wide = real.pivot(index="table", columns="model", values="auc")
    if "auto:stack" not in wide or wide.empty:
        return []
    stack = float(wide["auto:stack"].mean())
    checks = [("auto stack >= lasso_lr (mean AUC)", stack, float(wide["auto:lasso_lr"].mean()))]
    learners = [c for c in wide.columns if c.startswith("auto:") and not _combined(c)]
    if learners:
        best = max(learners, key=lambda c: wide[c].mean())
        checks.append((f"auto stack >= best base learner {best} (mean AUC)", stack,
                       float(wide[best].mean())))  # fmt: skip
    for table, bound in WORC_PUBLISHED.items():
        if table in wide.index:
            checks.append((f"auto stack on {table} >= WORC {bound}", float(wide.loc[table,
                           "auto:stack"]), bound))  # fmt: skip
    return [(name, value, bound, value >= bound) for name, value, bound in checks]


def markdown(
    summary: pd.DataFrame,
    times: pd.DataFrame,
    tables: list[str],
    header: str,
    reference: dict[str, float],
) -> str:
    """The before/after and ablation tables and the verdicts, as Markdown."""
    wide = summary.pivot(index="table", columns="model", values="auc")
    real = [t for t in tables if t != SYNTHETIC and t in wide.index]
    bases = [c for c in wide.columns if c.startswith("auto:") and not _combined(c)]
    best = max(bases, key=lambda c: wide.loc[real, c].mean()) if bases else None
    before_after = pd.DataFrame({
        "paper stack": wide.get(REFERENCE), "auto stack": wide.get("auto:stack"),
        "lasso_lr": wide.get("paper:lasso_lr", wide.get("auto:lasso_lr")),
        f"best base learner ({best})": wide.get(best) if best else np.nan,
        "best auto base learner per table (after the fact)": wide[bases].max(axis=1)
        if bases else np.nan,
        "radMLBench best of grid": pd.Series(reference, dtype=float),
        "WORC published": pd.Series(WORC_PUBLISHED),
    }).reindex([*real, *[t for t in tables if t not in real and t in wide.index]])  # fmt: skip
    before_after.loc["mean (radMLBench tables)"] = before_after.loc[real].mean()
    rows = []
    for model in wide.columns:
        values = wide.loc[real, model]
        diffs = summary[(summary["model"] == model) & summary["table"].isin(real)]
        variant = model.split(":", 1)[0]
        wall = times.loc[times["variant"] == variant, "wall_s"].sum() if len(times) else np.nan
        rows.append({
            "model": model, "mean AUC": values.mean(),
            "synthetic AUC": wide.loc[SYNTHETIC, model] if SYNTHETIC in wide.index else np.nan,
            "mean diff vs paper": diffs["diff_vs_paper"].mean(),
            "tables better than paper": int((diffs["diff_vs_paper"] > 0).sum()),
            "tables p<0.05 vs paper (two-sided)": int((diffs["p_vs_paper"] < 0.05).sum()),
            "mean fold SD": diffs["fold_sd"].mean(), "variant wall s": wall,
        })  # fmt: skip
    ablation = pd.DataFrame(rows).sort_values("mean AUC", ascending=False)
    lines = [header, "", "## Before / after (pooled out-of-fold AUC)", "",
             before_after.to_markdown(floatfmt=".3f"), "", "## Ablation", "",
             ablation.to_markdown(index=False, floatfmt=".3f"), "", "## Targets", ""]  # fmt: skip
    for name, value, bound, met in verdicts(summary, tables):
        lines.append(f"- {'PASS' if met else 'MISS'} {name}: {value:.3f} vs {bound:.3f}")
    return "\n".join(lines) + "\n"


def _combined(model: str) -> bool:
    name = model.split(":", 1)[1]
    return name.startswith("stack") or name == "lasso_lr"


def main() -> None:
    """Run the ablation, print and write the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="", help="Comma-separated (default: all + synthetic)")
    parser.add_argument("--variants", default="paper,paper_cw,depth,auto")
    parser.add_argument("--trials", type=int, default=None, help="Optuna trials per learner.")
    parser.add_argument("--repeats", type=int, default=None, help="Outer CV repeats.")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--inner-folds", type=int, default=5)
    parser.add_argument("--synthetic-size", default=None, help="PATIENTSxFEATURES")
    parser.add_argument("--quick", action="store_true", help="8 trials, 1 repeat, 150x600.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "benchmark-accuracy")
    parser.add_argument("--summarise", action="store_true", help="Only summarise OUT/oof.parquet.")
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        help="With --summarise: more run folders to merge (e.g. one per variant).",
    )
    parser.add_argument("--markdown", type=Path, default=None, help="Write the tables here.")
    parser.add_argument(
        "--table-dir",
        type=Path,
        default=RADMLBENCH,
        help="Folder of radMLBench-format tables (default: ../shared/refdata/radmlbench).",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    trials = args.trials if args.trials is not None else (8 if args.quick else 25)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 2)
    size = args.synthetic_size or ("150x600" if args.quick else "300x2400")
    synthetic_size = tuple(int(v) for v in size.lower().split("x"))
    if not args.table_dir.is_dir():
        raise SystemExit(f"error: --table-dir {args.table_dir} is not a folder")
    reference = reference_aucs(args.table_dir)
    named = [t for t in args.tables.split(",") if t]
    tables = named or [*tables_in(args.table_dir, reference), SYNTHETIC]
    configs = variant_configs(trials, args.folds, args.inner_folds)
    variants = [v for v in args.variants.split(",") if v]
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"{trials} trials/learner, outer {args.folds}x{repeats}, inner {args.inner_folds}, "
        f"synthetic {size}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True
    )  # fmt: skip
    frames, times = [], []
    if args.summarise:
        folders = [args.out, *args.also]
        frames = [pd.read_parquet(f / "oof.parquet") for f in folders]
        times = [r for f in folders for r in pd.read_csv(f / "wall_times.csv").to_dict("records")]
        found = list(dict.fromkeys(t for frame in frames for t in frame["table"]))
        tables = [t for t in tables if t in found] if args.tables else found
        frames = [frame[frame["table"].isin(tables)] for frame in frames]
        times = [r for r in times if r["table"] in tables]
    for table in [] if args.summarise else tables:
        X, y, has_sites = load_table(table, args.out, synthetic_size, args.table_dir)
        for variant in variants:
            oof, wall = run_variant(X, y, has_sites, configs[variant], repeats, args.seed)
            oof["model"] = variant + ":" + oof["model"]
            frames.append(oof.assign(table=table))
            times.append({"table": table, "variant": variant, "wall_s": wall,
                          "load": os.getloadavg()[0]})  # fmt: skip
            stack = oof[oof["model"] == f"{variant}:stack"]
            auc = roc_auc_score(stack["label"], stack["probability"])
            print(f"{table} {variant}: stack AUC {auc:.3f} ({wall:.0f} s)", flush=True)
        pd.concat(frames).to_parquet(args.out / "oof.parquet")  # partial results survive
        pd.DataFrame(times).to_csv(args.out / "wall_times.csv", index=False)
    oof = pd.concat(frames, ignore_index=True)
    summary = summarise(oof)
    summary.to_csv(args.out / "summary.csv", index=False)
    if not args.summarise:
        pd.DataFrame(times).to_csv(args.out / "wall_times.csv", index=False)
    wide = summary.pivot(index="model", columns="table", values="auc")
    real = [t for t in tables if t != SYNTHETIC and t in wide.columns]
    wide["mean_real"] = wide[real].mean(axis=1) if real else np.nan
    print()
    print(wide.sort_values("mean_real", ascending=False).to_string(float_format="{:.3f}".format))
    print()
    print(pd.DataFrame(times).pivot(index="variant", columns="table", values="wall_s").round(0))
    print()
    for name, value, bound, met in verdicts(summary, tables):
        print(f"{'PASS' if met else 'MISS'}  {name}: {value:.3f} vs {bound:.3f}")
    if args.markdown is not None:
        header = (
            f"# Accuracy ablation (benchmarks/accuracy.py)\n\n{trials} trials per "
            f"learner, outer {args.folds} x {repeats}, inner {args.inner_folds} folds, "
            f"outer-split seed {args.seed}."
        )
        table_note = "" if args.table_dir == RADMLBENCH else f" Tables from {args.table_dir}."
        args.markdown.write_text(
            markdown(summary, pd.DataFrame(times), tables, header + table_note, reference)
        )


if __name__ == "__main__":
    main()
