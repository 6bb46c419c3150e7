"""The Python running the tests is in the one supported range, stated alike in pyproject.toml
and the README (CI runs this on every push)."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import tomllib
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[1]


def supported() -> SpecifierSet:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    return SpecifierSet(project["requires-python"])


def test_running_python_is_supported() -> None:
    version = platform.python_version()
    assert version in supported(), (
        f"Python {version} is outside requires-python {supported()} (pyproject.toml)"
    )


def test_readme_states_the_same_range() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    stated = re.findall(r"Python (3\.\d+)", readme)
    assert stated, "README names no Python version"
    for version in set(stated):
        assert f"{version}.0" in supported(), (
            f"README names Python {version}, pyproject {supported()}"
        )
