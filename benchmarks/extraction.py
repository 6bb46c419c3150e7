"""Extraction speed and memory: radiopipe extract against pyradiomics' own batch command.

On a synthetic cohort (``radiopipe.synth``; >= 24 patients, T2WI and CE-T1WI) at the paper's
settings (configs/extraction/paper.yaml) this script times, in one run:

1. ``pyradiomics batch.csv -j N`` (pyradiomics' own parallel batch command),
2. ``radiopipe extract --workers 1``,
3. ``radiopipe extract --workers N``,
4. the same command again (every task cached),

checks that radiopipe's values equal pyradiomics' (max relative difference <= 1e-9), and
prints the timings and ratios against the targets. It also measures the peak memory of one
task on an 8 cm lesion with wavelets at paper settings (a fresh process per measurement).

    python benchmarks/extraction.py                  # 24 patients, N = cores
    python benchmarks/extraction.py --patients 48 --workers 4 --work /scratch/bench
    python benchmarks/extraction.py --memory-only

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
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="radiopipe-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}; {_cores()} cores; load average before: {_load()}")
    if not args.skip_memory:
        memory_table(work / "memory", args.config)
    if args.memory_only:
        return
    manifest = args.cohort or synthesise(work / "cohort", args.patients, args.size)
    speed_table(manifest, args.config, work, args.workers)
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


def speed_table(manifest: Path, config: Path, work: Path, n: int) -> None:
    """Time the four runs, compare values with pyradiomics, print the table and ratios."""
    from radiopipe.cohort.manifest import read_manifest

    cohort = read_manifest(manifest)
    batch = write_batch(cohort, work / "batch.csv")
    tasks = len(pd.read_csv(batch))
    times = {}
    times[f"pyradiomics batch -j {n}"] = run_pyradiomics(batch, config, work / "pyrad.csv", n)
    times["radiopipe extract, 1 worker"] = run_radiopipe(manifest, config, work / "rp1", 1)
    times[f"radiopipe extract, {n} workers"] = run_radiopipe(manifest, config, work / "rpn", n)
    times["radiopipe extract, cached re-run"] = run_radiopipe(manifest, config, work / "rpn", n)
    worst, compared = compare(work / "pyrad.csv", work / "rpn" / "features.parquet", cohort)
    print(f"\n{tasks} tasks ({len(cohort.table)} patients x {len(cohort.sequences)} sequences), "
          f"settings {config.name}")  # fmt: skip
    print(f"{'run':<36}{'seconds':>10}{'s/task':>9}")
    for name, seconds in times.items():
        print(f"{name:<36}{seconds:>10.1f}{seconds / tasks:>9.2f}")
    first = times[f"radiopipe extract, {n} workers"]
    ratios = [
        ("pyradiomics -j N / radiopipe N", times[f"pyradiomics batch -j {n}"] / first, ">= 1"),
        ("radiopipe 1 / radiopipe N", times["radiopipe extract, 1 worker"] / first,
         f">= {0.8 * n:.1f} (0.8 N)"),
        ("cached / first run", times["radiopipe extract, cached re-run"] / first, "< 0.05"),
    ]  # fmt: skip
    print(f"\n{'ratio':<36}{'value':>10}  target")
    for name, value, target in ratios:
        print(f"{name:<36}{value:>10.3f}  {target}")
    status = "OK" if worst <= TOLERANCE else "FAILED"
    print(f"\nvalues vs pyradiomics: {compared} compared, max relative difference "
          f"{worst:.2e} ({status}, limit {TOLERANCE:g})")  # fmt: skip


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


def compare(pyradiomics_csv: Path, features: Path, cohort) -> tuple[float, int]:
    """Max relative difference between pyradiomics' batch output and our features table."""
    theirs = pd.read_csv(pyradiomics_csv)
    ours = pd.read_parquet(features).set_index("patient_id")
    worst, compared = 0.0, 0
    for row in theirs.to_dict("records"):
        for name, text in row.items():
            if not isinstance(name, str) or name.startswith("diagnostics_") or name.count("_") != 2:
                continue
            if name in ("patient_id", "sequence", "Image", "Mask"):
                continue
            expected = _number(text)
            actual = ours.loc[str(row["patient_id"]), f"{row['sequence']}__{name}"]
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
