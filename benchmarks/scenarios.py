"""Scanner-effect scenarios: does ComBat help when sites differ and cost nothing when they don't?

For each scanner effect S (0 = identical scanners, 1 = today's presets, 2 = strong) this
synthesises the demo cohort (`radiopipe synth --scanner-effect S`), extracts features with
configs/extraction/demo.yaml, trains configs/model/fast.yaml with ComBat and without
(`harmonise.method: none`), evaluates, and prints the known-answer table
(scenario, combat, split, model, auc, auc CI, oracle_auc, recovered) with a verdict:
ComBat must help at S = 2 and cost nothing at S = 0 (within the AUC's CI).

    python benchmarks/scenarios.py [--sites A:60,B:40,C:30] [--external C] [--effects 0,1,2]
                                   [--model stack] [--workers 2] [--out runs/benchmark-scenarios]

Timings depend on machine load; the script prints the load average next to them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
EXTRACTION = REPO / "configs" / "extraction" / "demo.yaml"
MODEL = REPO / "configs" / "model" / "fast.yaml"


def radiopipe(*args: str) -> None:
    """Run one radiopipe command (this checkout) and stop on failure."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "radiopipe", *args], check=True, env=env)


def model_config(out: Path, method: str) -> Path:
    """configs/model/fast.yaml with harmonise.method set to ``method``."""
    config = yaml.safe_load(MODEL.read_text(encoding="utf-8"))
    config.setdefault("harmonise", {})["method"] = method
    path = out / f"model_{method}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def scenario(out: Path, effect: float, args: argparse.Namespace) -> pd.DataFrame:
    """Synth, extract, train with and without ComBat, evaluate; the known-answer rows."""
    folder = out / f"S{effect:g}"
    cohort = folder / "cohort"
    radiopipe(
        "synth", "--out", str(cohort), "--sites", args.sites, "--size", args.size,
        "--external-sites", args.external, "--seed", str(args.seed),
        "--effect-size", str(args.effect_size), "--scanner-effect", str(effect),
        "--workers", str(args.workers),
    )  # fmt: skip
    manifest = cohort / "manifest.csv"
    radiopipe(
        "extract", "--manifest", str(manifest), "--params", str(EXTRACTION),
        "--out", str(folder / "extract"), "--workers", str(args.workers),
    )  # fmt: skip
    features = folder / "extract" / "features.parquet"
    rows = []
    for method in ("combat", "none"):
        train = folder / f"train_{method}"
        radiopipe(
            "train", "--features", str(features), "--manifest", str(manifest),
            "--config", str(model_config(folder, method)), "--out", str(train),
        )  # fmt: skip
        evaluate = folder / f"evaluate_{method}"
        radiopipe(
            "evaluate", "--predictions", str(train / "predictions.parquet"),
            "--manifest", str(manifest), "--out", str(evaluate),
            "--bootstrap", str(args.bootstrap),
        )  # fmt: skip
        known = pd.read_csv(evaluate / "known_answer.csv")
        performance = pd.read_csv(evaluate / "performance.csv")
        ci = _auc_ci(performance)
        known = known.merge(ci, on=["split", "model"], how="left")
        rows.append(known.assign(scenario=f"S={effect:g}", combat=method == "combat"))
    return pd.concat(rows, ignore_index=True)


def _auc_ci(performance: pd.DataFrame) -> pd.DataFrame:
    """split, model, auc_low, auc_high (DeLong CI) from evaluate's performance table."""
    return performance[["split", "model", "auc_ci_low", "auc_ci_high"]].rename(
        columns={"auc_ci_low": "auc_low", "auc_ci_high": "auc_high"}
    )


def verdict(table: pd.DataFrame, model: str) -> list[str]:
    """ComBat must help at the strongest effect and cost nothing at S = 0 (within the CI)."""
    lines = []
    rows = table[table["model"] == model]
    scenarios = sorted(rows["scenario"].unique(), key=lambda s: float(s.split("=")[1]))
    for split in rows["split"].unique():
        for name, rule in ((scenarios[0], "no cost"), (scenarios[-1], "helps")):
            pair = rows[(rows["scenario"] == name) & (rows["split"] == split)]
            on = pair[pair["combat"]].iloc[0]
            off = pair[~pair["combat"]].iloc[0]
            if rule == "helps":
                ok = on["auc"] > off["auc"]
                text = f"ComBat AUC {on['auc']:.3f} vs none {off['auc']:.3f}"
            else:
                ok = on["auc"] >= off["auc_low"]
                text = (
                    f"ComBat AUC {on['auc']:.3f} vs none {off['auc']:.3f} "
                    f"(CI {off['auc_low']:.3f}-{off['auc_high']:.3f})"
                )
            status = "PASS" if ok else "FAIL"
            lines.append(f"{status} {name} {split} {model}: ComBat {rule}: {text}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", default="A:60,B:40,C:30")
    parser.add_argument("--external", default="C")
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--effects", default="0,1,2")
    parser.add_argument("--effect-size", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=500)
    parser.add_argument("--model", default="stack")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "benchmark-scenarios")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tables = [scenario(args.out, float(e), args) for e in args.effects.split(",")]
    table = pd.concat(tables, ignore_index=True)
    columns = [
        "scenario", "combat", "split", "model", "n", "auc", "auc_low", "auc_high",
        "oracle_auc", "recovered", "spearman_true",
    ]  # fmt: skip
    table = table[columns].sort_values(["model", "split", "scenario", "combat"])
    table.to_csv(args.out / "scenarios.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table.round(3).to_string(index=False))
    for line in verdict(table, args.model):
        print(line)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"total {time.perf_counter() - start:.0f} s (load average {load})")


if __name__ == "__main__":
    main()
