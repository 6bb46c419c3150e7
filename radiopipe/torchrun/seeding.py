"""Seeds derived from a run seed, and torch RNG isolation and state (for resumable training).

Two derivations exist and both are kept, because each reproduces the numbers of trained
models: :func:`derived_seed` mixes integers (segment: run seed, model index, epoch) and
:func:`labelled_seed` mixes a seed with labels (deep: task name, ``"epoch"``, epoch).
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


def derived_seed(*parts: int) -> int:
    """A 31-bit seed derived from integers (run seed, model index, epoch...)."""
    return int(np.random.SeedSequence([abs(int(p)) for p in parts]).generate_state(1)[0] >> 1)


def labelled_seed(seed: int, *labels: object) -> int:
    """A 31-bit seed derived from a base seed and labels (task name, epoch), via CRC-32."""
    key = [seed] + [zlib.crc32(str(p).encode()) for p in labels]
    return int(np.random.SeedSequence(key).generate_state(1)[0] & 0x7FFFFFFF)


@contextlib.contextmanager
def isolated_rng(device: torch.device | None = None) -> Iterator[None]:
    """Run a block with torch's global RNG forked, so seeding inside leaves no trace outside.

    The CUDA generator of the current device is forked too when ``device`` is a CUDA device.
    """
    cuda = device is not None and device.type == "cuda"
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
        yield


def rng_state() -> dict[str, Any]:
    """Torch RNG states (CPU and CUDA) as tensors; they drive dropout and weight init."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved (CUDA states only when CUDA is present)."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
