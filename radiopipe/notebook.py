"""Helpers for the analysis notebooks (notebooks/*.ipynb).

:func:`default_run` finds the run folder a notebook opens: ``$RADIOPIPE_RUN`` when set, else
``runs/demo`` under the radiopipe repository, found by walking up from the working directory
(Jupyter starts a notebook's kernel in the notebook's own folder) to the folder holding
radiopipe's ``pyproject.toml``, else beside the installed package (editable install).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from radiopipe.errors import RadiopipeError

ENV = "RADIOPIPE_RUN"
DEFAULT = Path("runs") / "demo"
_PROJECT = re.compile(r'^\s*name\s*=\s*["\']radiopipe["\']', re.MULTILINE)


def repository_root(start: str | Path | None = None) -> Path | None:
    """The radiopipe repository holding ``start`` (default: the working directory), else the
    one holding the imported package, else None."""
    here = Path(start or Path.cwd()).resolve()
    package = Path(__file__).resolve().parents[1]
    for folder in [here, *here.parents, package]:
        project = folder / "pyproject.toml"
        if project.is_file() and _PROJECT.search(project.read_text("utf-8", errors="replace")):
            return folder
    return None


def default_run(start: str | Path | None = None) -> Path:
    """The run folder a notebook opens (see the module docstring); an error saying how to make
    one when it does not exist."""
    given = os.environ.get(ENV, "").strip()
    if given:
        run = Path(given).expanduser().resolve()
        where = f"${ENV} = {given}"
    else:
        root = repository_root(start)
        if root is None:
            raise RadiopipeError(
                f"cannot find the radiopipe repository above {Path(start or Path.cwd())}: set "
                f"{ENV} to a run folder"
            )
        run = root / DEFAULT
        where = f"the default run ({DEFAULT} under {root})"
    if not run.is_dir():
        raise RadiopipeError(
            f"{run}: no such run folder ({where}); run `make demo` in the repository first, or "
            f"set {ENV} to a finished run folder"
        )
    return run
