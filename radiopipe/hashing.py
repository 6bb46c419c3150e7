"""Content hashes in one place: files and folders, and settings as canonical JSON (SHA-256).

Pure standard library (no SimpleITK, no torch), so any module can hash without importing the
imaging stack. The hex digests are stable across runs and machines: cache keys, resume keys,
stage keys and the weights hashes in model cards are all made here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["canonical_json", "file_sha256", "json_sha256", "settings_hash", "text_sha256"]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (names and contents, sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    """SHA-256 of a text (UTF-8)."""
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_json(obj: Any) -> str:
    """Stable JSON text of settings, for hashing (sorted keys, no whitespace)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def json_sha256(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj``."""
    return text_sha256(canonical_json(obj))


def settings_hash(settings: Any) -> str:
    """A stable SHA-256 of settings (a pydantic model, dumped in JSON mode, or plain data)."""
    dump = getattr(settings, "model_dump", None)
    return json_sha256(dump(mode="json") if callable(dump) else settings)
