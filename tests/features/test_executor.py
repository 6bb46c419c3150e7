"""The Dask executor: same numbers as in-process, worker deaths become failures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radiopipe.cohort.manifest import read_manifest
from radiopipe.features import executor
from radiopipe.features.executor import ExecutorOptions, default_workers
from radiopipe.features.extract import extract_cohort
from radiopipe.features.params import load_params
from radiopipe.features.task import TaskSpec
from tests.features.conftest import FAST, build_cohort


@pytest.mark.slow
def test_local_dask_cluster_matches_in_process(tmp_path: Path) -> None:
    cohort = read_manifest(build_cohort(tmp_path / "cohort", n=2))
    params = load_params(FAST)
    local = extract_cohort(
        cohort, params, tmp_path / "a", ExecutorOptions(workers=0), show_progress=False
    )
    dask = extract_cohort(
        cohort, params, tmp_path / "b", ExecutorOptions(workers=2, memory_limit="2GiB"),
        show_progress=False,
    )  # fmt: skip
    assert dask.summary.computed == 4 and "2 local worker" in dask.summary.executor
    pd.testing.assert_frame_equal(local.features, dask.features, check_exact=True)


def test_a_killed_worker_is_a_failure_of_its_task() -> None:
    from distributed import KilledWorker

    class DeadFuture:
        def result(self):
            raise KilledWorker("extract-1", "tcp://127.0.0.1:1", None)

    spec = TaskSpec("P1", "t2w", "/data/p1.nii.gz", "/data/m1.nii.gz", {}, ())
    options = ExecutorOptions(workers=2, memory_limit="3GiB")
    [result] = executor._results_of(DeadFuture(), [spec], options)
    assert not result.ok and result.patient_id == "P1" and result.sequence == "t2w"
    assert "died" in result.error and "3GiB" in result.error and "--memory-limit" in result.error


def test_options() -> None:
    assert ExecutorOptions().n_workers == default_workers() >= 1
    assert ExecutorOptions(workers=0).describe() == "this process"
    assert "tcp://h:8786" in ExecutorOptions(scheduler="tcp://h:8786").describe()


def test_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    from radiopipe.errors import RadiopipeError

    cohort = read_manifest(build_cohort(tmp_path / "cohort", n=1))
    with pytest.raises(RadiopipeError, match="cannot start Dask"):
        extract_cohort(
            cohort, load_params(FAST), tmp_path / "o",
            ExecutorOptions(scheduler="tcp://127.0.0.1:9", connect_timeout=1),
            show_progress=False,
        )  # fmt: skip


def test_thread_policy_uses_the_cores_without_oversubscribing(monkeypatch) -> None:
    monkeypatch.setattr(executor, "default_workers", lambda: 8)
    assert executor.sitk_threads(ExecutorOptions(workers=2)) == 4
    assert executor.sitk_threads(ExecutorOptions(workers=8)) == 1
    assert executor.sitk_threads(ExecutorOptions(workers=16)) == 1
    assert executor.sitk_threads(ExecutorOptions(workers=8), n_tasks=2) == 4  # 2 workers start
    assert executor.sitk_threads(ExecutorOptions(scheduler="tcp://h:8786")) == 1
    assert executor.sitk_threads(ExecutorOptions(workers=0)) is None  # SimpleITK's default
    assert executor.sitk_threads(ExecutorOptions(workers=2, threads=3)) == 3


def test_tasks_on_one_image_travel_together_costliest_first() -> None:
    def spec(pid: str, image: str, variant: str = "", cost: float = 1.0, run=None) -> TaskSpec:
        return TaskSpec(pid, "t2w", image, f"/m/{pid}{variant}", run or {}, (), variant, cost=cost)

    specs = [
        spec("P1", "/i/1", cost=1), spec("P2", "/i/2", cost=5), spec("P1", "/i/1", "erode"),
        spec("P1", "/i/1", "dilate"), spec("P3", "/i/3", run={"setting": {"binWidth": 5}}),
        spec("P3", "/i/3", "erode"),
    ]  # fmt: skip
    groups = executor.group_specs(specs)
    assert [[s.patient_id + s.variant for s in g] for g in groups] == [
        ["P2"], ["P1", "P1erode", "P1dilate"], ["P3"], ["P3erode"],
    ]  # fmt: skip
