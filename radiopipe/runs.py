"""Run folders: resolved config, provenance (versions, commit, seed, manifest hash), log, stages."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import logging
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from radiopipe import __version__
from radiopipe.atomic import write_json
from radiopipe.config import config_hash, save_resolved
from radiopipe.errors import RadiopipeError
from radiopipe.hashing import file_sha256

PROVENANCE_FILE = "provenance.json"
RESOLVED_CONFIG_FILE = "config.resolved.yaml"
LOG_FILE = "radiopipe.log"
STAGES_DIR = ".stages"

TRACKED_PACKAGES = (
    "numpy", "pandas", "scipy", "SimpleITK", "pyradiomics-bhklab", "scikit-learn", "lightgbm",
    "imbalanced-learn", "neuroHarmonize", "optuna", "shap", "torch", "monai", "dask", "pyarrow",
)  # fmt: skip

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class RunFolder:
    """One folder holding a command's outputs and the record of how they were made."""

    root: Path

    @classmethod
    def named(cls, name: str, base: str | Path = "runs") -> RunFolder:
        """The run folder ``<base>/<name>``; the name must be a plain folder name."""
        if not _NAME.match(name):
            raise RadiopipeError(
                f"run name {name!r} is not a plain folder name (letters, digits, '.', '_', '-')"
            )
        return cls.at(Path(base) / name)

    @classmethod
    def at(cls, path: str | Path) -> RunFolder:
        """The run folder at ``path``, created if needed."""
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise RadiopipeError(f"{root}: exists and is not a folder")
        root.mkdir(parents=True, exist_ok=True)
        return cls(root)

    def path(self, *parts: str) -> Path:
        """A path inside the run folder."""
        return self.root.joinpath(*parts)

    def record(
        self,
        command: str,
        config: BaseModel | None = None,
        seed: int | None = None,
        manifest: str | Path | None = None,
        extra: dict[str, Any] | None = None,
        started: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Save the resolved config and a provenance record; return the record."""
        if config is not None:
            save_resolved(config, self.path(RESOLVED_CONFIG_FILE))
        prov: dict[str, Any] = {
            "command": command,
            "argv": sys.argv,
            "started": (started or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
            "radiopipe": __version__,
            "git_commit": git_commit(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "packages": package_versions(),
            "seed": seed,
            "config_sha256": config_hash(config) if config is not None else None,
        }
        if manifest is not None:
            prov["manifest"] = {
                "path": str(Path(manifest).resolve()),
                "sha256": file_sha256(manifest),
            }
        if extra:
            prov.update(extra)
        write_json(self.path(PROVENANCE_FILE), prov)
        return prov

    def attach_log(self, level: int = logging.INFO) -> logging.Handler:
        """Send radiopipe's log records to ``radiopipe.log`` in this folder."""
        handler = logging.FileHandler(self.path(LOG_FILE), encoding="utf-8")
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger = logging.getLogger("radiopipe")
        logger.setLevel(min(logger.level or level, level))
        logger.addHandler(handler)
        return handler

    # Stage completion: a stage is done for a key (hash of its inputs and settings).

    def stage_done(self, stage: str, key: str) -> bool:
        """True if ``stage`` finished for exactly this key and its listed outputs still exist."""
        marker = self.path(STAGES_DIR, f"{stage}.json")
        if not marker.is_file():
            return False
        record = json.loads(marker.read_text(encoding="utf-8"))
        outputs = [self.root / p for p in record.get("outputs", [])]  # absolute paths stay
        return record.get("key") == key and all(p.exists() for p in outputs)

    def mark_stage(
        self,
        stage: str,
        key: str,
        outputs: list[str | Path] = (),
        named: dict[str, Path] | None = None,
    ) -> None:
        """Record that ``stage`` finished for ``key``, with its outputs (inside this folder)."""
        rel = [self._relative(p) for p in outputs]
        record = {
            "key": key,
            "outputs": rel,
            "named_outputs": {k: self._relative(p) for k, p in (named or {}).items()},
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        write_json(self.path(STAGES_DIR, f"{stage}.json"), record)

    def _relative(self, path: str | Path) -> str:
        """Inside the run folder: relative (the folder may move); outside (a shared cache):
        absolute."""
        resolved = Path(path).resolve()
        try:
            return str(resolved.relative_to(self.root.resolve()))
        except ValueError:
            return str(resolved)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages that shape the numbers."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The git commit of the radiopipe source tree, with '-dirty' if it has changes."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=5,
        )  # fmt: skip
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
