"""A real `radiopipe extract` process killed mid-run resumes without losing finished work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from radiopipe.cohort.manifest import read_manifest
from radiopipe.features.executor import ExecutorOptions
from radiopipe.features.extract import extract_cohort
from radiopipe.features.params import load_params
from tests.conftest import REPO
from tests.features.conftest import FAST, build_cohort


def finished_tasks(cache: Path) -> set[str]:
    """Cache files of finished tasks (each one parses: nothing is ever half written)."""
    done = set()
    for path in cache.glob("*/*.json"):
        json.loads(path.read_text(encoding="utf-8"))
        done.add(str(path.relative_to(cache)))
    return done


@pytest.mark.slow
def test_killed_run_resumes_with_only_the_unfinished_tasks(tmp_path: Path) -> None:
    manifest = build_cohort(tmp_path / "cohort", n=12)
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "radiopipe", "extract", "--manifest", str(manifest),
        "--config", str(FAST), "--out", str(out), "--workers", "1",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: driver, scheduler and Dask workers
    )
    try:
        deadline = time.monotonic() + 300
        while len(finished_tasks(out / "cache")) < 3:
            assert process.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "no task finished within 5 minutes"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done = finished_tasks(out / "cache")
    assert 3 <= len(done) < 24, "kill the run in the middle"
    assert not (out / "features.parquet").exists()

    resumed = extract_cohort(
        read_manifest(manifest), load_params(FAST), out, ExecutorOptions(workers=0),
        show_progress=False,
    )  # fmt: skip
    assert resumed.summary.cached == len(done)
    assert resumed.summary.computed == 24 - len(done)
    assert resumed.failures.empty
    features = pd.read_parquet(out / "features.parquet")
    assert len(features) == 12 and not features.drop(columns="patient_id").isna().any().any()
