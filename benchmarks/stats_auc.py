"""Speed of radiopipe.stats: DeLong (midrank) and the vectorised stratified bootstrap.

References run in the same process: scikit-learn's ``roc_auc_score`` (AUC only) and the
O(m n) pairwise DeLong kernel for the variance; a Python loop of ``roc_auc_score`` over the
same bootstrap resamples for the bootstrap CI.

    .venv/bin/python benchmarks/stats_auc.py --sizes 100 300 1000 3000 --resamples 2000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from sklearn.metrics import roc_auc_score

from radiopipe.stats.bootstrap import StratifiedBootstrap, bootstrap_auc
from radiopipe.stats.delong import auc_delong


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """Fastest wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def pairwise_delong(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """DeLong variance from the definition: the m x n kernel matrix."""
    cases, controls = s[y == 1][:, None], s[y == 0][None, :]
    psi = (cases > controls) + 0.5 * (cases == controls)
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), v10.var(ddof=1) / v10.size + v01.var(ddof=1) / v01.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000, 3000])
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--loop-resamples", type=int, default=200,
                        help="resamples timed for the Python loop (scaled up)")  # fmt: skip
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    header = (
        f"{'N':>6} {'DeLong ms':>10} {'kernel ms':>10} {'x':>6} {'sklearn AUC ms':>15} "
        f"{'boot s':>8} {'loop s':>8} {'x':>6}"
    )
    print(f"bootstrap: {args.resamples} stratified resamples; loop timed on "
          f"{args.loop_resamples} and scaled")  # fmt: skip
    print(header)
    for n in args.sizes:
        y = (rng.random(n) < 0.45).astype(int)
        s = np.round(rng.normal(size=n) + y, 2)
        ours = best_of(lambda y=y, s=s: auc_delong(y, s))
        kernel = best_of(lambda y=y, s=s: pairwise_delong(y, s))
        sk = best_of(lambda y=y, s=s: roc_auc_score(y, s))
        boot = best_of(lambda y=y, s=s: bootstrap_auc(y, s, args.resamples, seed=0), repeat=1)
        idx = StratifiedBootstrap(y, args.loop_resamples, seed=0).indices()
        loop = best_of(lambda y=y, s=s, idx=idx: [roc_auc_score(y[i], s[i]) for i in idx], 1)
        loop *= args.resamples / args.loop_resamples
        print(
            f"{n:>6} {ours * 1e3:>10.2f} {kernel * 1e3:>10.2f} {kernel / ours:>6.1f} "
            f"{sk * 1e3:>15.2f} {boot:>8.3f} {loop:>8.2f} {loop / boot:>6.0f}"
        )


if __name__ == "__main__":
    main()
