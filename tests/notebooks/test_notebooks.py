"""The analysis notebooks run top to bottom (nbclient) as Jupyter runs them: the kernel starts
in the notebook's own folder, no RADIOPIPE_RUN is set, and the notebook finds ``runs/demo`` of
its repository by itself (here a copy of the repository layout holding a tiny study run)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from tests.report.runfactory import build_run

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
TINY = {"train": (40, "A"), "internal_test": (16, "A"), "external_test": (16, "B")}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A repository layout: pyproject.toml, notebooks/ and the default run runs/demo (tiny)."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(NOTEBOOKS, root / "notebooks")
    build_run(root / "runs" / "demo", splits=TINY, seed=1)
    return root


def execute(notebook_path: Path) -> nbformat.NotebookNode:
    """Run a notebook with its own folder as the working directory, RADIOPIPE_RUN unset."""
    from nbclient import NotebookClient

    notebook = nbformat.read(notebook_path, as_version=4)
    env = {"RADIOPIPE_RUN": None, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    old = {k: os.environ.get(k) for k in env}
    for key, value in env.items():  # the kernel inherits this process's environment
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        client = NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(notebook_path.parent)}},
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
def test_feature_exploration_opens_the_default_run_from_its_folder(checkout) -> None:
    notebook = execute(checkout / "notebooks" / "01_feature_exploration.ipynb")
    text = outputs(notebook)
    assert "demo: 72 patients" in text
    assert "site AUC before" in text
    assert "site AUC after" in text or "model" in text.split("site AUC before")[1]
    assert images(notebook) >= 4


@pytest.mark.slow
def test_model_results_opens_the_default_run_from_its_folder(checkout) -> None:
    notebook = execute(checkout / "notebooks" / "02_model_results.ipynb")
    text = outputs(notebook)
    assert "reference stack" in text and "pre-specified primary model" in text
    assert "p_holm" in text
    assert images(notebook) >= 10


def test_default_run_is_found_from_any_folder_of_the_repository(tmp_path, monkeypatch) -> None:
    from radiopipe.errors import RadiopipeError
    from radiopipe.notebook import default_run, repository_root

    monkeypatch.delenv("RADIOPIPE_RUN", raising=False)
    root = tmp_path / "clone"
    (root / "notebooks" / "deeper").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "notebooks" / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert repository_root(root / "notebooks" / "deeper") == root
    with pytest.raises(RadiopipeError, match="make demo"):
        default_run(root / "notebooks")
    (root / "runs" / "demo").mkdir(parents=True)
    monkeypatch.chdir(root / "notebooks" / "deeper")
    assert default_run() == root / "runs" / "demo"
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv("RADIOPIPE_RUN", str(other))
    assert default_run() == other
    monkeypatch.setenv("RADIOPIPE_RUN", str(tmp_path / "missing"))
    with pytest.raises(RadiopipeError, match="RADIOPIPE_RUN"):
        default_run()
