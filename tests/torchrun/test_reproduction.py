"""The shared torch runtime reproduces, number for number, the training of before the refactor.

golden.json was recorded with the segment and deep training stacks as they were before they
moved onto radiopipe.torchrun (same seed, same tiny networks, 2 epochs, CPU, one thread).
On the recording machine the numbers are bit-identical; the tolerance (1e-4 relative) only
absorbs other CPUs' kernels of the same kind, while a change in seeding or RNG order moves them
by far more. PyTorch's AVX-512 and AVX2 convolution kernels round differently, and two Adam
epochs turn that into biases up to 7 % apart, so each SIMD kind has its own recording
(tests/simd.py): golden.json (AVX-512), golden-avx2.json (AVX2). A machine of a kind with no
recording skips, naming its kind; ``RADIOPIPE_RECORD_GOLDEN`` records one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.simd import torch_kind
from tests.torchrun.golden import record

RECORDINGS = {"avx512": "golden.json", "avx2": "golden-avx2.json"}  # torch's CPU capability


def _close(actual: object, expected: object, where: str) -> None:
    if isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            _close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list) and expected and isinstance(expected[0], str):
        assert actual == expected, where
    elif isinstance(expected, list | float | int):
        np.testing.assert_allclose(
            np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
            rtol=1e-4, atol=1e-6, err_msg=where,
        )  # fmt: skip


@pytest.mark.slow
def test_training_reproduces_the_recorded_numbers() -> None:
    numbers = record()
    target = os.environ.get("RADIOPIPE_RECORD_GOLDEN")
    if target:
        Path(target).write_text(json.dumps(numbers, indent=1))
        pytest.skip(f"recorded {target}")
    kind = torch_kind()
    golden = Path(__file__).with_name(RECORDINGS.get(kind, f"golden-{kind}.json"))
    if not golden.is_file():
        pytest.skip(f"no recording for PyTorch's CPU capability {kind!r} ({golden.name})")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    _close(numbers["segment"], expected["segment"], "segment")
    _close(numbers["deep"], expected["deep"], "deep")
