"""Transform files: ITK text transforms (.tfm or .txt), written atomically."""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from radiopipe.atomic import atomic_path
from radiopipe.errors import InputError
from radiopipe.preprocess.register import last_line

__all__ = ["TRANSFORM_SUFFIXES", "load_transform", "save_transform"]

TRANSFORM_SUFFIXES = (".tfm", ".txt")


def save_transform(transform: sitk.Transform, path: str | Path) -> Path:
    """Write a transform as an ITK text file (.tfm or .txt), atomically."""
    path = Path(path)
    if path.suffix not in TRANSFORM_SUFFIXES:
        raise ValueError(f"{path}: transform files end in {' or '.join(TRANSFORM_SUFFIXES)}")
    with atomic_path(path) as tmp:
        sitk.WriteTransform(transform, str(tmp))
    return path


def load_transform(path: str | Path) -> sitk.Transform:
    """Read an ITK text transform file written by :func:`save_transform` (or ITK tools)."""
    path = Path(path)
    if path.suffix not in TRANSFORM_SUFFIXES:
        raise InputError(
            f"not an ITK text transform file (expected {' or '.join(TRANSFORM_SUFFIXES)})",
            file=path,
        )
    if not path.is_file():
        raise InputError("transform file does not exist", file=path)
    try:
        return sitk.ReadTransform(str(path)).Downcast()
    except RuntimeError as err:
        raise InputError(f"unreadable transform ({last_line(err)})", file=path) from None
