"""Which SIMD kernels this CPU runs: recorded numbers are kept per kind.

NumPy and PyTorch pick their vectorised kernels when they start (AVX-512 or AVX2 on x86),
and the kinds round float32 maths differently (NumPy's float32 power, exp and reductions;
PyTorch's convolutions). A study recorded on one kind reproduces bit for bit on that kind and
moves in the 7th digit on the other (seen: synthetic CE-T1WI intensities, then everything
fitted on them; a V-Net's biases after two Adam epochs by up to 7 %). So each recording
names the kind it was made on, and a test compares with the recording of its own kind.
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
