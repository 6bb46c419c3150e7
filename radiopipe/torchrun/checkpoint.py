"""Checkpoints: state dicts written atomically, read back with ``weights_only=True``."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from radiopipe.atomic import atomic_path
from radiopipe.errors import RadiopipeError

CHECKPOINT_FORMAT = 1


class CheckpointError(RadiopipeError):
    """A checkpoint or weights file is missing, corrupt, unsafe or from other settings."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a training state (tensors, numbers, strings, lists, dicts only) atomically."""
    payload = {"format": CHECKPOINT_FORMAT, **state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | Path, config_sha256: str | None = None) -> dict[str, Any]:
    """Read a training state; refuse pickled objects and states of different settings."""
    state = _safe_load(path)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT}; "
            "it was written by another radiopipe version (start again with --overwrite)"
        )
    if config_sha256 is not None and state.get("config_sha256") != config_sha256:
        raise CheckpointError(
            f"{path}: checkpoint was written with different settings; resume with the same "
            "config or start again with --overwrite"
        )
    return state


def save_weights(path: str | Path, model: torch.nn.Module) -> Path:
    """Write a model's state_dict atomically (tensors on CPU)."""
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(weights, tmp)
    return Path(path)


def load_weights(path: str | Path, model: torch.nn.Module) -> torch.nn.Module:
    """Load a state_dict saved by :func:`save_weights` into ``model`` (strict key match)."""
    weights = _safe_load(path)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise CheckpointError(
            f"{path}: weights do not fit the configured network ({first}); was it trained "
            "with another network config?"
        ) from None
    return model


def _safe_load(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path}: refused; it holds objects other than tensors and plain values "
            f"({str(err).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path}: unreadable or truncated ({err})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a mapping, found {type(data).__name__}")
    return data
