"""Study-scale benchmark: the radiomics path of Wen et al.'s study on a cohort of its size.

Synthesises a cohort (default A:300, B:60 at the default volume size, B external), then runs
`pipelines/hifu_fibroid.yaml` on it in this process with the paper's extraction and model
settings (`configs/extraction/paper.yaml`, `configs/model/paper.yaml`): validate, preprocess,
design, extract, robustness, train, evaluate, explain and report. The V-Net and the CNN/ViT
belong on a GPU and are timed by `segmentation.py` and `deep.py`; here the cohort's reference
masks are used and the deep models are left out.

For every stage it prints wall time, CPU time (this process plus every worker process, sampled
from the process tree) and peak resident memory of the tree, then the known-answer table
(evaluate/known_answer.csv) and the projected wall time at 8 and 32 workers: the CPU time of
a stage's worker processes divides among the workers (never below one task's share), the rest
stays serial. With `--project-to A:300,B:60` a run on a smaller cohort also projects the
per-task costs it measured to the study's size (extract, robustness and preprocess scale with
the patient count; the other stages are kept at their measured time and flagged).

    python benchmarks/study.py [--sites A:300,B:60] [--external B] [--size default]
                               [--workers 2] [--project-to A:300,B:60] [--out runs/benchmark-study]

Target: the radiomics path within 60 minutes on 2 cores at the study's size. Timings depend on
machine load; the load average is printed next to them.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
PIPELINE = REPO / "pipelines" / "hifu_fibroid.yaml"
TARGET_MINUTES = 60.0
# stages whose work is one task per patient (and sequence), spread over worker processes
PER_PATIENT = {"preprocess", "extract", "robustness"}


@dataclass
class StageUsage:
    """What one stage used: wall and CPU seconds (own process, worker processes), peak RSS."""

    name: str
    status: str = ""
    wall_s: float = 0.0
    own_cpu_s: float = 0.0
    worker_cpu_s: float = 0.0
    peak_rss_mb: float = 0.0


@dataclass
class TreeSampler:
    """Samples this process tree every ``period`` s: CPU seconds per pid, total RSS."""

    period: float = 0.5
    cpu: dict[int, float] = field(default_factory=dict)
    peak_rss: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        me = psutil.Process()
        rss = 0.0
        for proc in [me, *me.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                rss += proc.memory_info().rss
            except psutil.Error:  # ended between listing and reading
                continue
            self.cpu[proc.pid] = times.user + times.system
        self.peak_rss = max(self.peak_rss, rss)

    def loop(self) -> None:
        while not self._stop.wait(self.period):
            self.sample()

    def start(self) -> None:
        threading.Thread(target=self.loop, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


class StageClock:
    """The pipeline's ``on_stage`` callback: usage between a stage's start and its end."""

    def __init__(self, sampler: TreeSampler) -> None:
        self.sampler = sampler
        self.usage: list[StageUsage] = []
        self._start: tuple[float, dict[int, float]] = (0.0, {})

    def __call__(self, stage: str, status: str) -> None:
        self.sampler.sample()
        if status == "running":
            self.sampler.peak_rss = 0.0
            self.sampler.sample()
            self._start = (time.perf_counter(), dict(self.sampler.cpu))
            return
        started, before = self._start
        if status == "skipped" or not started:
            self.usage.append(StageUsage(stage, status))
            return
        me = os.getpid()
        spent = {pid: cpu - before.get(pid, 0.0) for pid, cpu in self.sampler.cpu.items()}
        self.usage.append(
            StageUsage(
                stage, status, time.perf_counter() - started, own_cpu_s=spent.get(me, 0.0),
                worker_cpu_s=sum(v for pid, v in spent.items() if pid != me),
                peak_rss_mb=self.sampler.peak_rss / 2**20,
            )
        )  # fmt: skip
        self._start = (0.0, {})


def parse_sites(text: str) -> dict[str, int]:
    """'A:300,B:60' -> {'A': 300, 'B': 60}."""
    return {name: int(n) for name, n in (part.split(":") for part in text.split(","))}


def synthesise(out: Path, args: argparse.Namespace) -> Path:
    """The synthetic cohort (reused when its manifest exists); its manifest."""
    cohort = out / "cohort"
    manifest = cohort / "manifest.csv"
    if not manifest.is_file():
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = [
            sys.executable, "-m", "radiopipe", "synth", "--out", str(cohort),
            "--sites", args.sites, "--size", args.size, "--external-sites", args.external,
            "--seed", str(args.seed), "--workers", str(args.workers),
        ]  # fmt: skip
        subprocess.run(command, check=True, env=env)
    return manifest


def study_pipeline(out: Path, manifest: Path, pipeline: Path = PIPELINE) -> Path:
    """The study's pipeline file on ``manifest``: no V-Net model, no deep models."""
    config = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
    base = pipeline.parent
    config["cohort"]["manifest"] = str(manifest.resolve())
    config.pop("segment", None)
    config.pop("deep", None)
    for stage in ("preprocess", "extract", "train"):
        key = "params" if stage == "extract" else "config"
        if key in (config.get(stage) or {}):
            config[stage][key] = str((base / config[stage][key]).resolve())
    path = out / "study.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def project(
    usage: list[StageUsage], tasks: dict[str, int], workers: int, scales: dict[str, float]
) -> float:
    """Projected wall seconds at ``workers`` workers with each parallel stage's task count
    multiplied by ``scales[stage]``: its tasks (each at its measured mean CPU cost) run in
    rounds of ``workers``; its own-process CPU scales the same way."""
    total = 0.0
    for stage in usage:
        if stage.name not in PER_PATIENT:
            total += stage.wall_s
            continue
        scale = scales.get(stage.name, 1.0)
        measured = max(1, tasks.get(stage.name, 1))
        one_task = stage.worker_cpu_s / measured
        rounds = math.ceil(max(1, round(measured * scale)) / workers)
        total += stage.own_cpu_s * scale + rounds * one_task
    return total


def stage_scales(manifest: Path, scale: float, max_patients: int | None) -> dict[str, float]:
    """How each parallel stage's task count grows when the cohort grows ``scale`` times:
    preprocess and extract with the patients; robustness with its training patients until
    ``max_patients`` (the pipeline's sample size) caps it."""
    from radiopipe.contracts import TRAINING_SPLITS

    table = pd.read_csv(manifest, dtype={"split": str}, keep_default_na=False)
    training = int(table["split"].isin(TRAINING_SPLITS).sum())
    cap = max_patients if max_patients is not None else math.inf
    measured = min(training, cap)
    robustness = min(training * scale, cap) / measured if measured else scale
    return {"preprocess": scale, "extract": scale, "robustness": robustness}


def task_counts(run: Path, manifest: Path) -> dict[str, int]:
    """Tasks per parallel stage: patients (preprocess), patient-sequences (extract), and
    patient-rater-sequences (robustness: one row of its ratings table per patient and rater)."""
    table = pd.read_csv(manifest)
    sequences = [c.removeprefix("image_") for c in table.columns if c.startswith("image_")]
    counts = {"preprocess": len(table), "extract": len(table) * len(sequences)}
    ratings = run / "robustness" / "robustness_features.parquet"
    if ratings.is_file():
        counts["robustness"] = len(pd.read_parquet(ratings, columns=["rater"])) * len(sequences)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", default="A:300,B:60")
    parser.add_argument("--external", default="B")
    parser.add_argument("--size", default="default")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--project-to", default="A:300,B:60", help="cohort size to project to")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "benchmark-study")
    parser.add_argument("--pipeline", type=Path, default=PIPELINE, help="study pipeline file")
    args = parser.parse_args()
    from radiopipe.config.pipeline import load_pipeline
    from radiopipe.pipeline import run_pipeline

    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    manifest = synthesise(args.out, args)
    synth_s = time.perf_counter() - started
    sampler = TreeSampler()
    clock = StageClock(sampler)
    sampler.start()
    try:
        run_pipeline(
            load_pipeline(study_pipeline(args.out, manifest, args.pipeline)), args.out / "run",
            workers=args.workers, on_stage=clock,
        )  # fmt: skip
    finally:  # the stages measured so far are kept when one fails
        sampler.stop()
        table = pd.DataFrame([vars(u) for u in clock.usage])
        table.to_csv(args.out / "stages.csv", index=False)
    n = sum(parse_sites(args.sites).values())
    scale = sum(parse_sites(args.project_to).values()) / n
    tasks = task_counts(args.out / "run", manifest)
    ran = [u for u in clock.usage if u.status == "ran"]
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print(f"cohort {args.sites} ({n} patients, size {args.size}); synthesis {synth_s:.0f} s")
        print(table.round(1).to_string(index=False))
        known = args.out / "run" / "evaluate" / "known_answer.csv"
        if known.is_file():
            print(pd.read_csv(known).round(3).to_string(index=False))
    measured = sum(u.wall_s for u in ran)
    print(f"radiomics path, {n} patients, {args.workers} workers: {measured / 60:.1f} min")
    cap = (yaml.safe_load(args.pipeline.read_text(encoding="utf-8")).get("robustness") or {}).get(
        "max_patients"
    )
    here, there = stage_scales(manifest, 1.0, cap), stage_scales(manifest, scale, cap)
    print(f"task-count scale to {args.project_to}: " + ", ".join(
        f"{k} x{v:.2f}" for k, v in there.items()))  # fmt: skip
    rows = []
    for workers in (args.workers, 8, 32):
        rows.append(
            {"workers": workers, f"projected_min_{n}_patients": project(ran, tasks, workers, here)
             / 60, "projected_min_study_size": project(ran, tasks, workers, there) / 60}
        )  # fmt: skip
    print(pd.DataFrame(rows).round(1).to_string(index=False))
    study = project(ran, tasks, args.workers, there) / 60
    measured_at_size = scale == 1.0
    status = "PASS" if study <= TARGET_MINUTES else "MISS"
    how = "measured" if measured_at_size else f"projected from {n} patients"
    print(f"{status} radiomics path at the study's size on {args.workers} workers: {study:.1f} min "
          f"({how}; target <= {TARGET_MINUTES:.0f} min)")  # fmt: skip
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"total {time.perf_counter() - started:.0f} s (load average {load})")


if __name__ == "__main__":
    main()
