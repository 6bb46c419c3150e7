"""The bundle's checksum manifest: the SHA-256 of every file, verified before anything is read.

``checksums.sha256`` is in ``sha256sum`` format (``<hex>  <relative path>``, one line per
file, sorted), so ``sha256sum -c checksums.sha256`` checks a bundle without radiopipe.
"""

from __future__ import annotations

from pathlib import Path

from radiopipe.atomic import write_text
from radiopipe.contracts import PROVENANCE, RESOLVED_CONFIG, RUN_LOG
from radiopipe.errors import RadiopipeError
from radiopipe.hashing import file_sha256

CHECKSUMS = "checksums.sha256"
# The run's record of the stage that wrote the bundle (runs/<name>/bundle/ is a stage folder):
# written by the stage engine around the bundle, about the run, never read when scoring.
RECORD_FILES = frozenset({PROVENANCE, RESOLVED_CONFIG, RUN_LOG})


class BundleError(RadiopipeError):
    """A bundle is incomplete, modified or unreadable."""


def bundle_files(folder: Path) -> list[str]:
    """Every file of the bundle (relative, POSIX separators); the checksum file and the
    stage's record files at the top level left out."""
    names = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(n for n in names if n != CHECKSUMS and n not in RECORD_FILES)


def write_checksums(folder: str | Path) -> Path:
    """Write ``checksums.sha256`` listing the SHA-256 of every other file in ``folder``."""
    folder = Path(folder)
    lines = [f"{file_sha256(folder / name)}  {name}" for name in bundle_files(folder)]
    return write_text(folder / CHECKSUMS, "\n".join(lines) + "\n")


def read_checksums(folder: Path) -> dict[str, str]:
    """The recorded hashes by relative path."""
    path = folder / CHECKSUMS
    if not path.is_file():
        raise BundleError(f"{folder}: not a radiopipe bundle (no {CHECKSUMS})")
    recorded: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise BundleError(f"{path}: line {number} is not '<sha256>  <file>'")
        recorded[name] = digest
    return recorded


def verify_checksums(folder: str | Path) -> dict[str, str]:
    """Check every file against ``checksums.sha256``; refuse a missing, changed or extra file."""
    folder = Path(folder)
    recorded = read_checksums(folder)
    for name, digest in recorded.items():
        path = folder / name
        if not path.is_file():
            raise BundleError(f"{path}: file of the bundle is missing (listed in {CHECKSUMS})")
        if file_sha256(path) != digest:
            raise BundleError(
                f"{path}: file differs from the one the bundle was written with (SHA-256 "
                f"mismatch against {CHECKSUMS}); refusing a modified bundle. Export it again "
                "with `radiopipe export --run RUN --out DIR`"
            )
    extra = sorted(set(bundle_files(folder)) - set(recorded))
    if extra:
        raise BundleError(
            f"{folder / extra[0]}: file is not listed in {CHECKSUMS} ({len(extra)} unlisted "
            "file(s)); refusing a bundle with files added after it was written"
        )
    return recorded
