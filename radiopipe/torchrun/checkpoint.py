"""Weights and training states on disk: written atomically, read with ``weights_only=True``.

One argument order everywhere: the path first, then what is written or loaded into
(``save_weights(path, model)``, ``load_weights(path, model)``). Nothing here unpickles
arbitrary objects: ``torch.load(weights_only=True)`` accepts only tensors and plain values.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from radiopipe.atomic import atomic_path
from radiopipe.errors import RadiopipeError

CHECKPOINT_FORMAT = 2  # 2: one training-state layout for segment and deep (torchrun.loop)


class CheckpointError(RadiopipeError):
    """A checkpoint or weights file is missing, corrupt, unsafe or from other settings."""


def save_tensors(path: str | Path, obj: dict[str, Any]) -> Path:
    """``torch.save`` a dict of tensors and plain values atomically."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_tensors(path: str | Path) -> dict[str, Any]:
    """Load a file written by :func:`save_tensors`, refusing anything but tensors and plain data."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path}: refused; it holds objects other than tensors and plain values "
            f"({_first_line(err)}); only tensors and plain values are accepted"
        ) from None
    except Exception as err:  # zip, EOF and OS errors have many types
        raise CheckpointError(
            f"{path}: unreadable or truncated ({type(err).__name__}: {_first_line(err)}); "
            "not a radiopipe weights/checkpoint file or it is corrupt"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a mapping, found {type(data).__name__}")
    return data


def save_weights(path: str | Path, model: torch.nn.Module) -> Path:
    """Write a model's state_dict atomically (tensors on CPU)."""
    return save_tensors(path, {k: v.detach().cpu() for k, v in model.state_dict().items()})


def load_weights(path: str | Path, model: torch.nn.Module) -> torch.nn.Module:
    """Load a state_dict saved by :func:`save_weights` into ``model`` (strict key match)."""
    weights = load_tensors(path)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise CheckpointError(
            f"{path}: weights do not fit the configured network ({_first_line(err)}); was it "
            "trained with another network config?"
        ) from None
    return model


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a training state (tensors, numbers, strings, lists, dicts only) atomically."""
    return save_tensors(path, {"format": CHECKPOINT_FORMAT, **state})


def load_checkpoint(
    path: str | Path,
    config_sha256: str | None = None,
    remedy: str = "resume with the same config or start again with --overwrite",
) -> dict[str, Any]:
    """Read a training state; refuse pickled objects, other formats and other settings.

    ``remedy`` ends the error message of a refused checkpoint (what the user can do).
    """
    state = load_tensors(path)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT}; "
            f"it was written by another radiopipe version ({remedy})"
        )
    if config_sha256 is not None and state.get("config_sha256") != config_sha256:
        raise CheckpointError(
            f"{path}: checkpoint was written with different settings than the config given "
            f"now; {remedy}"
        )
    return state


def _first_line(err: Exception) -> str:
    text = str(err)
    return text.splitlines()[0] if text else ""
