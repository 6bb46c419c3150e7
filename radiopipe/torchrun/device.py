"""Device choice, mixed precision and CPU threads: one code path for CPU and CUDA."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch

from radiopipe.errors import RadiopipeError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


def select_device(preference: str = "auto", setting: str = "device") -> torch.device:
    """CUDA when present (or asked for), CPU otherwise; asking for absent CUDA is an error.

    ``setting`` names the flag or config key in the error message (``--device``,
    ``training.device``).
    """
    if preference not in DEVICES:
        raise RadiopipeError(
            f"{setting} {preference!r} is not a device; allowed values: {', '.join(DEVICES)}"
        )
    if preference == "cuda" and not torch.cuda.is_available():
        raise RadiopipeError(
            f"{setting} is 'cuda' but torch sees no CUDA GPU (torch {torch.__version__}); "
            "use auto or cpu"
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


def grad_scaler(device: torch.device, enabled: bool) -> torch.amp.GradScaler:
    """The loss scaler that goes with :func:`autocast` (a pass-through when disabled)."""
    return torch.amp.GradScaler(device.type, enabled=enabled)


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
