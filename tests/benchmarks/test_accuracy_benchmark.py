"""benchmarks/accuracy.py runs end to end on a folder of radMLBench-format tables of one's own
(the issue-17 targets are checked on real tables the repository does not hold)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "accuracy.py"


def _table(path: Path, n: int = 60, p: int = 12, seed: int = 0) -> None:
    """A radMLBench-format table (ID, Target, features) whose first two features carry the
    label strongly."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = rng.normal(size=(n, p))
    X[:, :2] += 2.0 * y[:, None]
    frame = pd.DataFrame(X, columns=[f"original_firstorder_F{i}" for i in range(p)])
    frame.insert(0, "Target", y)
    frame.insert(0, "ID", [f"P{i:03d}" for i in range(n)])
    frame.to_csv(path, index=False)


def _run(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def test_the_targets_are_checked_on_tables_from_another_folder(tmp_path) -> None:
    tables = tmp_path / "tables"
    tables.mkdir()
    _table(tables / "WORC-CRLM.csv")
    out = tmp_path / "run"
    result = _run(
        "--table-dir", tables, "--tables", "WORC-CRLM", "--variants", "auto", "--trials", 1,
        "--repeats", 1, "--folds", 2, "--inner-folds", 2, "--out", out,
        "--markdown", out / "accuracy.md",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    summary = pd.read_csv(out / "summary.csv").set_index("model")
    # every model of the auto preset, the stack's meta-learner ablation and the baseline
    for model in ("auto:stack", "auto:lasso_lr", "auto:logreg", "auto:svm", "auto:rf",
                  "auto:lightgbm", "auto:stack_nonneg_fresh"):  # fmt: skip
        assert model in summary.index
    assert summary.loc["auto:stack", "auc"] > 0.85  # a strong signal is found
    text = (out / "accuracy.md").read_text(encoding="utf-8")
    assert f"Tables from {tables}" in text
    # WORC's published AUC on this cohort is a target; the mean targets are there too
    assert "auto stack on WORC-CRLM >= WORC 0.68" in text
    assert "auto stack >= lasso_lr (mean AUC)" in text
    assert "auto stack >= best base learner" in text


def test_a_missing_table_or_folder_is_a_clear_error(tmp_path) -> None:
    missing = _run("--table-dir", tmp_path, "--tables", "Nope2024", "--out", tmp_path / "o")
    assert missing.returncode != 0
    assert "no table 'Nope2024'" in missing.stderr and str(tmp_path) in missing.stderr
    folder = _run("--table-dir", tmp_path / "absent", "--out", tmp_path / "o")
    assert folder.returncode != 0 and "--table-dir" in folder.stderr
