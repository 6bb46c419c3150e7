"""Per-unit results of a nested CV (fold tables, not torch states), so that a long run resumes
after a crash where it stopped.

A unit's tables are written to ``<run>/.checkpoints/<key>/<unit>/`` (atomically, the ``done``
marker last). The key hashes the settings and the input files: a changed config or table
starts afresh. The final model is not checkpointed; it is refitted on resume.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd

from radiopipe.atomic import write_json, write_parquet
from radiopipe.hashing import file_sha256
from radiopipe.modeling.fitting import UnitResult

TABLES = ("predictions", "funnel", "selected", "tuning", "thresholds")


def run_key(config_hash: str, *files: Path | None) -> str:
    """A short key for one training run's inputs and settings."""
    digest = hashlib.sha256(config_hash.encode())
    for path in files:
        digest.update((file_sha256(path) if path is not None else "-").encode())
    return digest.hexdigest()[:16]


class Checkpoints:
    """Checkpoint folder of one run key."""

    def __init__(self, run_folder: Path, key: str) -> None:
        self.root = Path(run_folder) / ".checkpoints" / key

    def _dir(self, unit_name: str) -> Path:
        return self.root / unit_name

    def load(self, unit_name: str) -> UnitResult | None:
        """The saved result of a unit, or None if it did not finish."""
        folder = self._dir(unit_name)
        if not (folder / "done.json").is_file():
            return None
        if not all((folder / f"{name}.parquet").is_file() for name in TABLES):
            return None  # written by an older radiopipe: fit the unit again
        tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
        return UnitResult(**tables)

    def save(self, unit_name: str, result: UnitResult) -> None:
        """Write a unit's tables; the done marker is written last."""
        folder = self._dir(unit_name)
        for name in TABLES:
            write_parquet(folder / f"{name}.parquet", getattr(result, name))
        write_json(folder / "done.json", {"unit": unit_name})

    def clear(self) -> None:
        """Remove the checkpoints (after a successful run)."""
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.parent.is_dir() and not any(self.root.parent.iterdir()):
            self.root.parent.rmdir()
