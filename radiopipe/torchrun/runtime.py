"""Device choice, mixed precision and per-epoch seeds: one code path for CPU and CUDA."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import numpy as np
import torch

from radiopipe.errors import RadiopipeError

log = logging.getLogger(__name__)


def select_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for), CPU otherwise; asking for absent CUDA is an error."""
    if preference == "cuda" and not torch.cuda.is_available():
        raise RadiopipeError(
            "device 'cuda' was requested but torch sees no CUDA GPU "
            f"(torch {torch.__version__}); use --device auto or cpu"
        )
    if preference in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def use_amp(device: torch.device, wanted: bool) -> bool:
    """Mixed precision only on CUDA."""
    return wanted and device.type == "cuda"


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """float16 autocast on CUDA when enabled; a no-op otherwise."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.float16)


def derived_seed(*parts: int) -> int:
    """A 31-bit seed derived from integers (run seed, model index, epoch...)."""
    return int(np.random.SeedSequence([abs(int(p)) for p in parts]).generate_state(1)[0] >> 1)


@contextlib.contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Run a block with torch limited to ``threads`` CPU threads (unchanged when None)."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def isolated_rng(device: torch.device) -> Iterator[None]:
    """Run a block with torch's global RNG forked, so seeding inside leaves no trace outside."""
    devices = [torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield
