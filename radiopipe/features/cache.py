"""The extraction cache: one JSON file per (patient, sequence, mask variant), written atomically.

``<cache>/<patient>/<sequence>[.<variant>].json`` maps unit keys (see ``units.py``) to the
features computed for them, plus the diagnostics per general key. A file is replaced in one
rename, so a crash loses at most the task in flight, never a finished one. Entries made from
other image or mask files are dropped when the task is next written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radiopipe.atomic import write_json, write_text
from radiopipe.hashing import file_sha256

logger = logging.getLogger(__name__)

FORMAT = 1
HASH_MEMO = "file_hashes.json"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_name(text: str) -> str:
    """A file-system-safe folder name for an identifier (a hash suffix keeps it unique)."""
    cleaned = _SAFE.sub("_", text).lstrip(".") or "_"
    if cleaned != text:
        cleaned += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return cleaned[:120]


@dataclass
class TaskEntry:
    """What the cache holds for one (patient, sequence, variant)."""

    image_sha256: str
    mask_sha256: str
    units: dict[str, dict[str, float]] = field(default_factory=dict)
    diagnostics: dict[str, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # unit key -> readable unit name


class FeatureCache:
    """Per-task feature files under one folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, patient_id: str, sequence: str, variant: str = "") -> Path:
        """The cache file of one task."""
        name = safe_name(sequence) + (f".{safe_name(variant)}" if variant else "")
        return self.root / safe_name(patient_id) / f"{name}.json"

    def load(
        self, patient_id: str, sequence: str, variant: str, image_sha256: str, mask_sha256: str
    ) -> TaskEntry:
        """The cached entry for these inputs (empty if none, unreadable or for other files)."""
        path = self.path(patient_id, sequence, variant)
        empty = TaskEntry(image_sha256, mask_sha256)
        if not path.is_file():
            return empty
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            logger.warning("ignoring unreadable cache file %s (%s)", path, err)
            return empty
        if (
            data.get("format") != FORMAT
            or data.get("image_sha256") != image_sha256
            or data.get("mask_sha256") != mask_sha256
        ):
            return empty
        units = {k: v["features"] for k, v in data.get("units", {}).items()}
        labels = {k: v.get("unit", "") for k, v in data.get("units", {}).items()}
        return TaskEntry(image_sha256, mask_sha256, units, data.get("diagnostics", {}), labels)

    def save(self, patient_id: str, sequence: str, variant: str, entry: TaskEntry) -> Path:
        """Write a task's entry atomically."""
        data = {
            "format": FORMAT,
            "patient_id": patient_id,
            "sequence": sequence,
            "variant": variant,
            "image_sha256": entry.image_sha256,
            "mask_sha256": entry.mask_sha256,
            "diagnostics": entry.diagnostics,
            "units": {
                key: {"unit": entry.labels.get(key, ""), "features": feats}
                for key, feats in entry.units.items()
            },
        }
        path = self.path(patient_id, sequence, variant)
        # Not sorted: features keep pyradiomics' order, so tables do not depend on the cache.
        return write_text(path, json.dumps(data, allow_nan=True))


class FileHasher:
    """SHA-256 of input files, remembered by (size, mtime, inode) so re-runs skip re-reading."""

    def __init__(self, cache_root: str | Path) -> None:
        self.memo_path = Path(cache_root) / HASH_MEMO
        self._memo: dict[str, list] = {}
        if self.memo_path.is_file():
            try:
                self._memo = json.loads(self.memo_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._memo = {}

    def sha256(self, path: str | Path) -> str:
        """Hash of a file or DICOM folder (reused while its size and mtime are unchanged)."""
        path = Path(path)
        stamp = _stamp(path)
        known = self._memo.get(str(path))
        if stamp is not None and known and known[:-1] == stamp:
            return known[-1]
        digest = file_sha256(path)
        if stamp is not None:
            self._memo[str(path)] = [*stamp, digest]
        return digest

    def many(self, paths: Iterable[str | Path], workers: int = 8) -> dict[str, str | Exception]:
        """Hash many files in threads; a file that fails maps to its exception."""
        unique = sorted({str(p) for p in paths})

        def one(p: str) -> str | Exception:
            try:
                return self.sha256(p)
            except OSError as err:
                return err

        with ThreadPoolExecutor(max_workers=workers) as pool:
            return dict(zip(unique, pool.map(one, unique), strict=True))

    def save(self) -> None:
        """Persist the memo (atomically)."""
        write_json(self.memo_path, self._memo)


def _stamp(path: Path) -> list | None:
    try:
        if path.is_dir():  # a DICOM folder: its files' stamps
            files = sorted(p for p in path.rglob("*") if p.is_file())
            stats = [p.stat() for p in files]
            return [
                sum(s.st_size for s in stats),
                max((s.st_mtime_ns for s in stats), default=0),
                len(files),
            ]
        st = os.stat(path)
        return [st.st_size, st.st_mtime_ns, st.st_ino]
    except OSError:
        return None
