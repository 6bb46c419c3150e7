"""The analysis notebooks run top to bottom (nbclient) on a tiny study run folder."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from tests.report.runfactory import build_run

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
TINY = {"train": (40, "A"), "internal_test": (16, "A"), "external_test": (16, "B")}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("nb") / "tiny", splits=TINY, seed=1)


def execute(name: str, run: Path, workdir: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    env = {"RADIOPIPE_RUN": str(run), "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client = NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        )
        client.execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts += [str(v) for k, v in out.get("data", {}).items() if k == "text/plain"]
    return "\n".join(parts)


def images(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in out.get("data", {}) for c in notebook.cells for out in c.get("outputs", [])
    )


def test_notebooks_are_committed_without_outputs() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name
        tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert tagged and "RADIOPIPE_RUN" in tagged[0].source, path.name


@pytest.mark.slow
def test_feature_exploration_runs_on_a_tiny_run(tiny_run, tmp_path) -> None:
    notebook = execute("01_feature_exploration.ipynb", tiny_run, tmp_path)
    text = outputs(notebook)
    assert "tiny: 72 patients" in text
    assert "site AUC before" in text
    assert "site AUC after" in text or "model" in text.split("site AUC before")[1]
    assert images(notebook) >= 4


@pytest.mark.slow
def test_model_results_runs_on_a_tiny_run(tiny_run, tmp_path) -> None:
    notebook = execute("02_model_results.ipynb", tiny_run, tmp_path)
    text = outputs(notebook)
    assert "reference stack" in text and "highest AUC" in text
    assert "p_holm" in text
    assert images(notebook) >= 10
