"""Which SIMD kernels this CPU runs: recorded numbers are kept per kind.

NumPy and PyTorch pick their vectorised kernels when they start (AVX-512 or AVX2 on x86),
and the kinds round float32 maths differently (NumPy's float32 power, exp and reductions;
PyTorch's convolutions). A study recorded on one kind reproduces bit for bit on that kind and
not on the other. Seen on 2026-12-05, on an AVX2-only AMD EPYC against the recordings CI had
reproduced until then: about one voxel in 30,000 of the synthetic images moved by one grey
level (here too, with ``NPY_DISABLE_CPU_FEATURES="AVX2 FMA3 F16C AVX"``); that moved the
study's first-order features in the 7th digit and, through them, the MLP's out-of-fold
probabilities by up to 0.08 (its L-BFGS fit amplifies them). A V-Net's biases after two Adam
epochs moved by up to 7 %. So each recording names the kind it was made on, and a test
compares with the recording of its own kind.
"""

from __future__ import annotations


def numpy_kind() -> str:
    """``avx512``, ``avx2`` or ``baseline``: the widest x86 kernels NumPy dispatches to."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as features
    if features.get("AVX512_SKX") or features.get("AVX512F"):
        return "avx512"
    if features.get("AVX2") and features.get("FMA3"):
        return "avx2"
    return "baseline"


def torch_kind() -> str:
    """PyTorch's CPU capability, lower case (``avx512``, ``avx2``, ``default``)."""
    import torch

    return str(torch.backends.cpu.get_cpu_capability()).lower()
