"""A whole study's numbers stay what they were: structure changes must not move a single value.

``tests/data/golden/`` holds the outputs of a tiny three-centre study (every stage, a CNN
included) recorded with the code as it stood before the spine refactor (commit dabf91a).
This test runs the same study with today's code and compares every recorded table: the
features, the ICC table, the folds, the selected features, the thresholds, every model's
predictions and the evaluation tables. A change that means to move numbers (a new default, a
fixed leak) re-records them on purpose::

    python tests/pipeline/test_golden_outputs.py --record

and says in its commit which numbers moved and why.

The recording is kept per SIMD kind of CPU (tests/simd.py): ``golden/`` on AVX-512 machines
(those CI ran on until 2026-12-04: an AVX2 machine makes other synthetic images from the same
seed, so theirs was not AVX2), ``golden-avx2/`` on AVX2 ones. ``--record`` writes the folder
of this machine's kind; a machine of a kind with no recording skips the comparison and says so.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script (--record, --run-into)
    sys.path.insert(0, str(REPO))

from tests.simd import numpy_kind  # noqa: E402

RECORDINGS = {"avx512": "golden", "avx2": "golden-avx2"}  # SIMD kind -> folder in tests/data
KIND = numpy_kind()
GOLDEN = REPO / "tests" / "data" / RECORDINGS.get(KIND, f"golden-{KIND}")

PARAMS = {
    "imageType": {"Original": {}, "LoG": {"sigma": [3.0]}},
    "featureClass": {"shape": None, "firstorder": None, "glcm": None},
    "setting": {"normalize": True, "normalizeScale": 100, "binWidth": 25,
                "resampledPixelSpacing": [2, 2, 2], "interpolator": "sitkBSpline", "label": 1},
}  # fmt: skip
MODEL = {
    "seed": 1,
    "cv": {"outer_folds": 3, "inner_folds": 3},
    "lasso": {"n_strengths": 5},
    "learners": {"n_trials": 2, "timeout_s": 600.0},
}
CNN = {
    "name": "densenet",
    "seed": 0,
    "crop": {"size": [16, 16, 16], "spacing_mm": [4.0, 4.0, 4.0]},
    "network": {"architecture": "densenet", "init_features": 4, "growth_rate": 4,
                "block_config": [1, 1], "bn_size": 2},
    "training": {"epochs": 2, "batch_size": 8, "learning_rate": 3.0e-3, "patience": 2,
                 "oof_folds": 3, "device": "cpu"},
    "explain": {"patients_per_class": 1},
}  # fmt: skip

# table file (relative to the run) -> the columns that identify a row
TABLES: dict[str, list[str]] = {
    "extract/features.parquet": ["patient_id"],
    "robustness/icc.parquet": ["feature"],
    "train/folds.csv": ["patient_id", "repeat", "fold"],
    "train/selected_features.csv": [],
    "evaluate/predictions.parquet": ["model", "split", "fold", "patient_id"],
    "evaluate/performance.csv": ["model", "split"],
    "evaluate/delong.csv": [],
    "evaluate/calibration.csv": [],
    "evaluate/decision_curve.csv": [],
    "evaluate/fold_auc.csv": [],
}
JSONS = ["train/thresholds.json", "evaluate/thresholds_used.json"]


def write_study(folder: Path) -> Path:
    """The golden study: three synthetic centres, C external, a tiny CNN beside the stack."""
    (folder / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    (folder / "model.yaml").write_text(yaml.safe_dump(MODEL))
    (folder / "cnn.yaml").write_text(yaml.safe_dump(CNN))
    study = {
        "name": "golden",
        "seed": 5,
        "cohort": {"synth": {"sites": {"A": 14, "B": 12, "C": 10}, "external_sites": ["C"],
                             "size": "tiny", "effect_size": 4.0}},
        "extract": {"params": "params.yaml", "execution": {"workers": 0}},
        "robustness": {"perturbation": {"contour_repeats": 0}, "execution": {"workers": 0}},
        "train": {"config": "model.yaml"},
        "deep": {"models": ["cnn.yaml"]},
        "evaluate": {},
        "report": {"formats": ["html"], "pages_png": False},
    }  # fmt: skip
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def run_study(folder: Path) -> Path:
    from radiopipe.config.pipeline import load_pipeline
    from radiopipe.pipeline import run_pipeline

    result = run_pipeline(load_pipeline(write_study(folder)), folder / "run")
    return result.run


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _canonical(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows in a fixed order (by the key columns, else by every column), index dropped."""
    by = keys or list(table.columns)
    return table.sort_values(by, kind="mergesort").reset_index(drop=True)


def record(run: Path, golden: Path) -> None:
    """Copy the compared tables of ``run`` into ``golden``."""
    if golden.exists():
        shutil.rmtree(golden)
    for name in [*TABLES, *JSONS]:
        target = golden / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / name, target)


# The CNN trains on CPU with torch's multithreaded kernels: its probabilities reproduce to
# about 1e-6 between processes (seen: 1.7e-6 when the study ran beside other test workers),
# not bit for bit like the radiomics models. Rows of (or compared with) it get this tolerance.
TORCH_MODELS = {"densenet"}
TORCH_RTOL, TORCH_ATOL = 1e-4, 1e-5


def _torch_rows(table: pd.DataFrame) -> pd.Series:
    rows = pd.Series(False, index=table.index)
    for column in ("model", "reference", "model_a", "model_b"):
        if column in table:
            rows |= table[column].astype(str).isin(TORCH_MODELS)
    return rows


def _ci_width(table: pd.DataFrame, column: str) -> np.ndarray:
    """Width of the 95% interval recorded for ``column`` (or the one it bounds), else 0.

    A statistic of a near-constant prediction (the tiny CNN's calibration slope: 99.8, CI
    -249 to 448) amplifies a 1e-6 wobble in the probabilities into a 1e-4 relative change;
    its own interval says how precisely it is known, so its tolerance is a fraction of that.
    """
    base = column.removesuffix("_ci_low").removesuffix("_ci_high")
    low, high = f"{base}_ci_low", f"{base}_ci_high"
    if low not in table or high not in table:
        return np.zeros(len(table))
    width = (table[high] - table[low]).abs().to_numpy(float)
    return np.nan_to_num(width, nan=0.0)


def compare_table(recorded: pd.DataFrame, current: pd.DataFrame, keys: list[str], name: str):
    """Every recorded column and row unchanged: radiomics rows to 1e-9, CNN rows to 1e-4."""
    missing = [c for c in recorded.columns if c not in current.columns]
    assert not missing, f"{name}: columns {missing} disappeared"
    current = current[list(recorded.columns)]
    assert len(current) == len(recorded), f"{name}: {len(current)} rows, recorded {len(recorded)}"
    a, b = _canonical(recorded, keys), _canonical(current, keys)
    torch = _torch_rows(a).to_numpy()
    for column in a.columns:
        left, right = a[column], b[column]
        if pd.api.types.is_numeric_dtype(left) and pd.api.types.is_numeric_dtype(right):
            was, now = left.to_numpy(float), right.to_numpy(float)
            tolerance = np.where(
                torch,
                np.maximum(TORCH_ATOL, TORCH_RTOL * _ci_width(a, column)) + TORCH_RTOL * abs(was),
                1e-12 + 1e-9 * abs(was),
            )
            with np.errstate(invalid="ignore"):  # inf - inf: equal infinities pass on ==
                same = (now == was) | (abs(now - was) <= tolerance)
            same |= np.isnan(now) & np.isnan(was)
            assert same.all(), (
                f"{name}: column {column!r} changed in rows {np.flatnonzero(~same).tolist()}: "
                f"recorded {was[~same].tolist()}, now {now[~same].tolist()}"
            )
        else:
            assert left.astype(str).tolist() == right.astype(str).tolist(), (
                f"{name}: column {column!r} changed"
            )


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory) -> Path:
    """The study run in a fresh Python process, as a user runs it: the numbers must not depend
    on what earlier tests left in this process (thread pools, imported state)."""
    import subprocess

    if not GOLDEN.is_dir():
        message = f"no recorded outputs for this CPU's SIMD kind ({KIND}) at {GOLDEN}"
        if KIND not in RECORDINGS:
            pytest.skip(f"{message}; record them with --record")
        pytest.fail(f"{message}; record them with --record")
    folder = tmp_path_factory.mktemp("golden")
    done = subprocess.run(
        [sys.executable, __file__, "--run-into", str(folder)],
        capture_output=True, text=True, encoding="utf-8", errors="replace", check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return folder / "run"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TABLES))
def test_table_equals_its_recording(golden_run: Path, name: str) -> None:
    compare_table(_read(GOLDEN / name), _read(golden_run / name), TABLES[name], name)


@pytest.mark.slow
@pytest.mark.parametrize("name", JSONS)
def test_thresholds_equal_their_recording(golden_run: Path, name: str) -> None:
    recorded = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    current = json.loads((golden_run / name).read_text(encoding="utf-8"))
    assert set(current) >= set(recorded)
    for model, value in recorded.items():
        value = value["threshold"] if isinstance(value, dict) else value
        now = current[model]["threshold"] if isinstance(current[model], dict) else current[model]
        rel, tol = (TORCH_RTOL, TORCH_ATOL) if model in TORCH_MODELS else (1e-9, 1e-12)
        assert now == pytest.approx(value, rel=rel, abs=tol), (name, model)


def test_comparison_catches_a_changed_value() -> None:
    """The comparison is not vacuous: one changed probability fails it."""
    table = pd.DataFrame({"model": ["a", "b"], "probability": [0.25, 0.5]})
    compare_table(table, table.iloc[::-1].copy(), ["model"], "same rows, other order")
    moved = table.assign(probability=[0.25, 0.5 + 1e-6])
    with pytest.raises(AssertionError, match="probability"):
        compare_table(table, moved, ["model"], "moved")
    cnn = pd.DataFrame({"model": ["densenet"], "probability": [0.5]})
    compare_table(cnn, cnn.assign(probability=0.5 + 1e-6), ["model"], "CNN within 1e-4")
    with pytest.raises(AssertionError, match="probability"):
        compare_table(cnn, cnn.assign(probability=0.51), ["model"], "CNN moved")
    slope = pd.DataFrame({"model": ["densenet"], "slope": [99.819], "slope_ci_low": [-248.6],
                          "slope_ci_high": [448.2]})  # fmt: skip
    compare_table(slope, slope.assign(slope=99.812), ["model"], "1e-5 of its CI width")
    with pytest.raises(AssertionError, match="slope"):
        compare_table(slope, slope.assign(slope=99.0), ["model"], "CNN slope moved")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--record", action="store_true", help=f"re-record {GOLDEN} (this CPU's kind: {KIND})"
    )
    parser.add_argument("--run-into", type=Path, help="run the study into this folder only")
    args = parser.parse_args()
    if args.run_into is not None:
        run_study(args.run_into)
        sys.exit(0)
    if not args.record:
        sys.exit(pytest.main([__file__, "-q"]))
    with tempfile.TemporaryDirectory() as tmp:
        record(run_study(Path(tmp)), GOLDEN)
    print(f"recorded into {GOLDEN}")
