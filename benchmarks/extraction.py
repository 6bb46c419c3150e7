"""Extraction speed and memory: radiopipe extract against pyradiomics' own batch command.

On a synthetic cohort (``radiopipe.synth``; >= 24 patients, T2WI and CE-T1WI) at the paper's
settings (configs/extraction/paper.yaml) this script times, in one run:

1. ``pyradiomics batch.csv -j N`` (pyradiomics' own parallel batch command),
2. ``radiopipe extract --workers 1``,
3. ``radiopipe extract --workers N``,
4. the same command again (every task cached),
5. ``radiopipe robustness --workers N`` (erosion, dilation, one contour perturbation of each
   training patient's masks; the reference masks come from step 3's cache),
6. ``pyradiomics batch -j N`` on those perturbed masks (one pyradiomics run per mask: what
   the robustness stage did before it shared the mask-free work between the masks of one
   image),

checks that radiopipe's values equal pyradiomics' (max relative difference <= 1e-9), and
prints the timings and each ratio with PASS/MISS against its target. With ``--threads`` it
first compares SimpleITK thread counts per worker on a few tasks. It also measures the peak
memory of one task on an 8 cm lesion with wavelets at paper settings (a fresh process per
measurement).

    python benchmarks/extraction.py                  # 24 patients, N = cores
    python benchmarks/extraction.py --patients 48 --workers 4 --work /scratch/bench
    python benchmarks/extraction.py --memory-only
    python benchmarks/extraction.py --threads --skip-memory --skip-robustness

Run it on a quiet machine: the timings are wall-clock and the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "configs" / "extraction" / "paper.yaml"
TOLERANCE = 1e-9
SPEEDUP_VS_PYRADIOMICS = 1.25  # radiopipe N workers at least this much faster than -j N
SCALING = 0.9  # N workers at least SCALING * N times as fast as 1 worker
CACHED_FRACTION = 0.05  # a fully cached re-run takes less than this fraction of the first


def main() -> None:
    """Parse options, run the measurements, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=24, help="cohort size (>= 24)")
    parser.add_argument("--workers", type=int, default=_cores(), help="N (default: cores)")
    parser.add_argument("--size", default="default", help="radiopipe.synth volume size preset")
    parser.add_argument("--config", type=Path, default=PAPER, help="pyradiomics parameter file")
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--cohort", type=Path, help="use this manifest instead of synthesising")
    parser.add_argument("--memory-only", action="store_true", help="only the memory measurement")
    parser.add_argument("--skip-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("--skip-robustness", action="store_true", help="skip steps 5 and 6")
    parser.add_argument(
        "--threads", action="store_true", help="also compare SimpleITK threads per worker"
    )
    parser.add_argument("--thread-tasks", type=int, default=8, help="tasks in --threads runs")
    parser.add_argument(
        "--cpu", type=int, default=0, metavar="K",
        help="also: CPU seconds per task in one process, first K patients (load-independent)",
    )  # fmt: skip
    parser.add_argument("--cpu-only", action="store_true", help="only the --cpu measurement")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="radiopipe-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}; {_cores()} cores; load average before: {_load()}")
    if not args.skip_memory:
        memory_table(work / "memory", args.config)
    if args.memory_only:
        return
    manifest = args.cohort or synthesise(work / "cohort", args.patients, args.size)
    if args.cpu:
        cpu_table(manifest, args.config, work / "cpu", args.cpu)
    if args.cpu_only:
        return
    if args.threads:
        threads_table(manifest, args.config, work / "threads", args.workers, args.thread_tasks)
    speed_table(manifest, args.config, work, args.workers, not args.skip_robustness)
    print(f"load average after: {_load()}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


# Speed -------------------------------------------------------------------------------------


def synthesise(folder: Path, patients: int, size: str) -> Path:
    """A synthetic two-site cohort (two thirds site A) with both sequences and masks."""
    from radiopipe.synth import generate_cohort

    if patients < 24:
        raise SystemExit("use at least 24 patients")
    sites = {"A": patients - patients // 3, "B": patients // 3}
    start = time.perf_counter()
    manifest = generate_cohort(folder, sites=sites, size=size, seed=0, show_progress=True)
    print(f"synthetic cohort: {patients} patients ({size}) in {time.perf_counter() - start:.0f} s")
    return manifest


def speed_table(manifest: Path, config: Path, work: Path, n: int, robustness: bool) -> None:
    """Time the runs, compare values with pyradiomics, print the table and ratios."""
    from radiopipe.cohort.manifest import read_manifest

    cohort = read_manifest(manifest)
    batch = write_batch(cohort, work / "batch.csv")
    tasks = len(pd.read_csv(batch))
    pyrad, one, many = (
        f"pyradiomics batch -j {n}",
        "radiopipe extract, 1 worker",
        (f"radiopipe extract, {n} workers"),
    )
    cached = "radiopipe extract, cached re-run"
    times = {}
    times[pyrad] = run_pyradiomics(batch, config, work / "pyrad.csv", n)
    times[one] = run_radiopipe(manifest, config, work / "rp1", 1)
    times[many] = run_radiopipe(manifest, config, work / "rpn", n)
    times[cached] = run_radiopipe(manifest, config, work / "rpn", n)
    worst, compared = compare(work / "pyrad.csv", work / "rpn" / "features.parquet")
    counts = {name: tasks for name in times}
    if robustness:
        variants = robustness_runs(manifest, config, work, n, times, counts)
        worst_r, compared_r = compare(
            work / "pyrad_variants.csv", work / "robustness" / "robustness_features.parquet",
            rater_column="variant",
        )  # fmt: skip
    print(f"\n{tasks} tasks ({len(cohort.table)} patients x {len(cohort.sequences)} sequences), "
          f"settings {config.name}, N = {n}")  # fmt: skip
    print(f"{'run':<52}{'tasks':>6}{'seconds':>10}{'s/task':>9}")
    for name, seconds in times.items():
        print(f"{name:<52}{counts[name]:>6}{seconds:>10.1f}{seconds / counts[name]:>9.2f}")
    ratios = [
        (f"pyradiomics -j {n} / radiopipe {n}", times[pyrad] / times[many],
         SPEEDUP_VS_PYRADIOMICS, ">="),
        (f"radiopipe 1 / radiopipe {n}", times[one] / times[many], SCALING * n, ">="),
        ("cached re-run / first run", times[cached] / times[many], CACHED_FRACTION, "<"),
    ]  # fmt: skip
    if robustness:
        ratios.append(
            (f"robustness: pyradiomics -j {n} / radiopipe {n}",
             times[variants[1]] / times[variants[0]], SPEEDUP_VS_PYRADIOMICS, ">=")
        )  # fmt: skip
    print(f"\n{'ratio':<44}{'value':>8}  {'target':<10}result")
    for name, value, target, sense in ratios:
        ok = value >= target if sense == ">=" else value < target
        print(f"{name:<44}{value:>8.3f}  {sense} {target:<7.3g}{'PASS' if ok else 'MISS'}")
    _print_agreement("extract", worst, compared)
    if robustness:
        _print_agreement("robustness variants", worst_r, compared_r)


def _print_agreement(what: str, worst: float, compared: int) -> None:
    status = "PASS" if worst <= TOLERANCE else "MISS"
    print(f"values vs pyradiomics ({what}): {compared} compared, max relative difference "
          f"{worst:.2e} (limit {TOLERANCE:g}) {status}")  # fmt: skip


def robustness_runs(
    manifest: Path, config: Path, work: Path, n: int, times: dict, counts: dict
) -> tuple[str, str]:
    """Time ``radiopipe robustness`` and pyradiomics on the same perturbed masks."""
    out = work / "robustness"
    command = [
        sys.executable, "-m", "radiopipe", "robustness", "--manifest", str(manifest),
        "--config", str(config), "--out", str(out), "--workers", str(n),
        "--cache", str(work / "rpn" / "cache"),
    ]  # fmt: skip
    ours = f"radiopipe robustness, {n} workers (variants)"
    times[ours] = _timed(command)
    rows = []
    for path in sorted((out / "robustness_masks").glob("*/*.nii.gz")):
        sequence, variant = path.name.split("_")[:2]
        patient = _patient_of(path.parent.name, manifest)
        image = _image_of(manifest, patient, sequence)
        rows.append({"patient_id": patient, "sequence": sequence, "variant": variant,
                     "Image": image, "Mask": str(path)})  # fmt: skip
    batch = work / "batch_variants.csv"
    pd.DataFrame(rows).to_csv(batch, index=False)
    theirs = f"pyradiomics batch -j {n} on the same variant masks"
    times[theirs] = run_pyradiomics(batch, config, work / "pyrad_variants.csv", n)
    counts[ours] = counts[theirs] = len(rows)
    return ours, theirs


def _patient_of(folder: str, manifest: Path) -> str:
    from radiopipe.features.cache import safe_name

    ids = pd.read_csv(manifest, dtype={"patient_id": str})["patient_id"]
    return next(pid for pid in ids if safe_name(pid) == folder)


def _image_of(manifest: Path, patient: str, sequence: str) -> str:
    from radiopipe.cohort.manifest import read_manifest

    table = read_manifest(manifest).table.set_index("patient_id")
    return str(table.loc[patient, f"image_{sequence}"])


def cpu_table(manifest: Path, config: Path, work: Path, k: int) -> None:
    """CPU seconds (this process, one SimpleITK thread) per task and per robustness variant.

    pyradiomics: ``RadiomicsFeatureExtractor.execute(image_path, mask_path)`` per mask.
    radiopipe: ``run_task`` per task, ``run_group`` for the variants of one image. CPU time
    hardly depends on what else runs on the machine, unlike the wall-clock table.
    """
    import logging

    import radiomics
    import SimpleITK as sitk
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    from radiopipe.cohort.manifest import read_manifest
    from radiopipe.config.extraction import PerturbationSettings
    from radiopipe.features.params import load_params
    from radiopipe.features.perturb import make_perturbed
    from radiopipe.features.task import TaskSpec, run_group
    from radiopipe.features.units import params_for, plan_units
    from radiopipe.hashing import file_sha256

    radiomics.setVerbosity(logging.ERROR)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    params = load_params(config)
    units = plan_units(params)
    run = params_for(units, params)
    keyed = tuple((u.describe(), u) for u in units)
    cohort = read_manifest(manifest)
    reference = RadiomicsFeatureExtractor(str(config))
    totals = {"pyradiomics": [0.0, 0.0], "radiopipe": [0.0, 0.0]}  # extract, variants
    counts = [0, 0]
    worst, compared = 0.0, 0
    for row in cohort.table.to_dict("records")[:k]:
        for seq in cohort.sequences:
            image, mask = row[f"image_{seq}"], row[f"mask_{seq}"]
            masks = make_perturbed(
                mask, work / str(row["patient_id"]), str(row["patient_id"]), seq, params.label,
                PerturbationSettings(), file_sha256(mask),
            )  # fmt: skip
            all_masks = [mask, *[str(p) for p in masks.values()]]
            theirs = []
            for index, path in enumerate(all_masks):
                start = time.process_time()
                theirs.append(reference.execute(image, path))
                totals["pyradiomics"][min(index, 1)] += time.process_time() - start
            specs = [TaskSpec(str(row["patient_id"]), seq, image, p, run, keyed) for p in all_masks]
            start = time.process_time()
            ours = run_group(specs[:1])
            middle = time.process_time()
            ours += run_group(specs[1:])
            totals["radiopipe"][0] += middle - start
            totals["radiopipe"][1] += time.process_time() - middle
            counts[0] += 1
            counts[1] += len(all_masks) - 1
            for expected, result in zip(theirs, ours, strict=True):
                got = {k: v for unit in result.units.values() for k, v in unit.items()}
                compared += len(got)
                for name, value in got.items():
                    want = float(np.real(expected[name]))
                    scale = max(abs(want), abs(value)) or 1.0
                    worst = max(worst, abs(value - want) / scale)
    print(f"\nCPU seconds per task in one process ({counts[0]} tasks, {counts[1]} variant masks, "
          f"load {_load()}):")  # fmt: skip
    print(f"{'':<28}{'pyradiomics':>12}{'radiopipe':>11}{'ratio':>8}")
    for index, name in enumerate(("extract, per task", "robustness, per variant")):
        mine, theirs = totals["radiopipe"][index], totals["pyradiomics"][index]
        n = max(counts[index], 1)
        print(f"{name:<28}{theirs / n:>12.2f}{mine / n:>11.2f}{theirs / max(mine, 1e-9):>8.2f}")
    _print_agreement("in-process runs", worst, compared)


def threads_table(manifest: Path, config: Path, work: Path, n: int, n_tasks: int) -> None:
    """SimpleITK threads per worker: 1, cores // workers, and SimpleITK's default (all cores)."""
    from radiopipe.cohort.manifest import read_manifest
    from radiopipe.features.executor import ExecutorOptions
    from radiopipe.features.extract import extract_cohort
    from radiopipe.features.params import load_params

    cohort = read_manifest(manifest)
    patients = list(cohort.patients)[: max(1, n_tasks // len(cohort.sequences))]
    subset = cohort.subset(patients=patients)
    params = load_params(config)
    cores = _cores()
    print(f"\nSimpleITK threads per worker ({len(patients) * len(cohort.sequences)} tasks, "
          f"{cores} cores, load before {_load()}):")  # fmt: skip
    print(f"{'workers':>8}{'threads':>9}  {'meaning':<34}{'seconds':>9}")
    for workers in sorted({1, n}):
        choices: dict[int, list[str]] = {}
        for threads, meaning in ((1, "1"), (max(1, cores // workers), "cores // workers"),
                                 (cores, "SimpleITK default (cores)")):  # fmt: skip
            choices.setdefault(threads, []).append(meaning)
        for threads, meanings in sorted(choices.items()):
            label = " = ".join(meanings)
            out = work / f"w{workers}t{threads}"
            shutil.rmtree(out, ignore_errors=True)
            options = ExecutorOptions(workers=workers, threads=threads)
            start = time.perf_counter()
            extract_cohort(subset, params, out, options, show_progress=False)
            seconds = time.perf_counter() - start
            print(f"{workers:>8}{threads:>9}  {label:<34}{seconds:>9.1f}")
    print(f"load after: {_load()}")


def write_batch(cohort, path: Path) -> Path:
    """pyradiomics' batch file: one row per (patient, sequence) with Image and Mask."""
    rows = []
    for row in cohort.table.to_dict("records"):
        for seq in cohort.sequences:
            rows.append(
                {
                    "patient_id": row["patient_id"], "sequence": seq,
                    "Image": row[f"image_{seq}"], "Mask": row[f"mask_{seq}"],
                }
            )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def run_pyradiomics(batch: Path, config: Path, out: Path, n: int) -> float:
    """Run pyradiomics' batch command; return its wall time."""
    script = Path(sys.executable).with_name("pyradiomics")
    command = [str(script)] if script.exists() else [
        sys.executable, "-c", "from radiomics.scripts import parse_args; parse_args()"
    ]  # fmt: skip
    command += [str(batch), "-p", str(config), "-o", str(out), "-f", "csv", "-j", str(n)]
    return _timed(command)


def run_radiopipe(manifest: Path, config: Path, out: Path, workers: int) -> float:
    """Run ``radiopipe extract``; return its wall time."""
    command = [
        sys.executable, "-m", "radiopipe", "extract", "--manifest", str(manifest),
        "--config", str(config), "--out", str(out), "--workers", str(workers),
    ]  # fmt: skip
    return _timed(command)


def compare(
    pyradiomics_csv: Path, features: Path, rater_column: str | None = None
) -> tuple[float, int]:
    """Max relative difference between pyradiomics' batch output and our table.

    ``features`` is a features table (one row per patient) or, with ``rater_column``, the
    robustness ratings (one row per patient and rater; the CSV's column names the rater).
    """
    theirs = pd.read_csv(pyradiomics_csv, dtype={"patient_id": str})
    table = pd.read_parquet(features)
    keys = ["patient_id"] + (["rater"] if rater_column else [])
    ours = table.set_index(keys)
    skip = {"patient_id", "sequence", "Image", "Mask", rater_column}
    worst, compared = 0.0, 0
    for row in theirs.to_dict("records"):
        key = (
            str(row["patient_id"])
            if not rater_column
            else (str(row["patient_id"]), row[rater_column])
        )
        for name, text in row.items():
            if not isinstance(name, str) or name.startswith("diagnostics_") or name.count("_") != 2:
                continue
            if name in skip:
                continue
            expected = _number(text)
            actual = ours.loc[key, f"{row['sequence']}__{name}"]
            compared += 1
            if np.isnan(expected) and np.isnan(actual):
                continue
            scale = max(abs(expected), abs(actual))
            difference = abs(actual - expected) / scale if scale else 0.0
            worst = max(worst, difference if np.isfinite(difference) else np.inf)
    return worst, compared


def _number(text: object) -> float:
    """A value from pyradiomics' CSV (shape axes can print as complex numbers)."""
    if isinstance(text, str):
        return float(complex(text.strip("()").replace(" ", "")).real)
    return float(text)


# Memory ------------------------------------------------------------------------------------

MEMORY_CODE = """
import json, sys
from benchmarks.extraction import measure_one
print("RESULT" + json.dumps(measure_one(sys.argv[1], sys.argv[2], sys.argv[3])))
"""


def memory_table(folder: Path, config: Path) -> None:
    """Peak memory of one task on an 8 cm lesion at paper settings, in fresh processes."""
    rows = []
    for name, spacing, shape in (
        ("T2WI-like 0.75x0.75x4 mm, 384x384x32", (0.75, 0.75, 4.0), (32, 384, 384)),
        ("isotropic 1 mm, 256x256x128", (1.0, 1.0, 1.0), (128, 256, 256)),
    ):
        image, mask = lesion_volume(folder / name.split()[0], spacing, shape, diameter_mm=80.0)
        output = subprocess.run(
            [sys.executable, "-c", MEMORY_CODE, str(image), str(mask), str(config)],
            cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
            text=True, check=True,
        )  # fmt: skip
        line = next(ln for ln in output.stdout.splitlines() if ln.startswith("RESULT"))
        rows.append((name, json.loads(line[len("RESULT") :])))
    print("\npeak memory of one task, 8 cm spherical lesion, paper settings (wavelet + LoG):")
    print(
        f"{'volume':<40}{'ROI voxels':>11}{'baseline MB':>13}{'peak MB':>9}{'task MB':>9}{'s':>7}"
    )
    for name, r in rows:
        print(f"{name:<40}{r['roi_voxels']:>11}{r['baseline_mb']:>13.0f}{r['peak_mb']:>9.0f}"
              f"{r['peak_mb'] - r['baseline_mb']:>9.0f}{r['seconds']:>7.1f}")  # fmt: skip


def lesion_volume(
    folder: Path, spacing: tuple[float, float, float], shape: tuple[int, int, int],
    diameter_mm: float,
) -> tuple[Path, Path]:  # fmt: skip
    """A textured MR-like volume with a spherical lesion of the given diameter."""
    import SimpleITK as sitk
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    zz, yy, xx = np.indices(shape, dtype=np.float32)
    centre = [(s - 1) / 2 for s in shape]
    distance = np.sqrt(
        ((zz - centre[0]) * spacing[2]) ** 2 + ((yy - centre[1]) * spacing[1]) ** 2
        + ((xx - centre[2]) * spacing[0]) ** 2
    )  # fmt: skip
    texture = gaussian_filter(rng.normal(size=shape).astype(np.float32), 2.0)
    image = 300 + 150 * (distance < diameter_mm / 2) + 60 * texture / texture.std()
    image += 15 * rng.normal(size=shape).astype(np.float32)
    mask = (distance <= diameter_mm / 2).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "image.nii.gz", folder / "mask.nii.gz"
    for array, path in zip((image.astype(np.float32), mask), paths, strict=True):
        volume = sitk.GetImageFromArray(array)
        volume.SetSpacing(spacing)
        sitk.WriteImage(volume, str(path))
    return paths


def measure_one(image: str, mask: str, config: str) -> dict:
    """Run one task in this (fresh) process; report baseline and peak resident memory."""
    import SimpleITK as sitk

    from radiopipe.features import task as task_module
    from radiopipe.features.cache import FeatureCache
    from radiopipe.features.engine import TaskInput, _plan
    from radiopipe.features.params import load_params
    from radiopipe.features.units import plan_units

    params = load_params(config)
    planned, _ = _plan(
        [TaskInput("bench", "t2w", image, mask)], params, plan_units(params),
        FeatureCache(tempfile.mkdtemp()),
    )  # fmt: skip
    spec = next(iter(planned.values())).spec
    import radiomics.featureextractor  # noqa: F401  (imports count as baseline)

    task_module._reset_peak_rss()
    baseline = task_module._peak_rss_mb()
    result = task_module.run_task(spec.__class__(**{**spec.__dict__, "threads": 1}))
    assert result.ok, result.error
    roi = int(sitk.GetArrayViewFromImage(sitk.ReadImage(mask)).sum())
    return {
        "baseline_mb": baseline,
        "peak_mb": result.peak_rss_mb,
        "seconds": result.seconds,
        "roi_voxels": roi,
        "features": sum(len(v) for v in result.units.values()),
    }


def _timed(command: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])}... failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _load() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


if __name__ == "__main__":
    main()
