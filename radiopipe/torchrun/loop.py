"""The epoch loop shared by segment (V-Net) and deep (CNN / ViT): early stopping, resume.

The loop owns the bookkeeping (epochs finished, best score, patience, stop reason, history,
one checkpoint per finished epoch); the caller owns the epoch itself (seeding, batches,
validation) and the files. The bookkeeping draws no random numbers, so a caller's numbers
depend only on its epoch function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class EarlyStopping:
    """Stop after ``patience`` epochs without a validation score better than the best.

    ``mode`` says which way is better; a score improves on the best by more than
    ``min_delta``. With validation every ``every`` epochs, a non-improving validation counts
    as ``every`` epochs of patience.
    """

    patience: int
    mode: Literal["min", "max"] = "min"
    min_delta: float = 0.0
    every: int = 1

    def initial(self) -> float:
        """The best score before any validation."""
        return math.inf if self.mode == "min" else -math.inf

    def improves(self, score: float, best: float) -> bool:
        """Whether ``score`` beats ``best`` by more than ``min_delta``."""
        if self.mode == "min":
            return score < best - self.min_delta
        return score > best + self.min_delta


@dataclass
class LoopState:
    """What a checkpoint restores besides the network, optimiser and scaler states.

    ``epoch`` counts finished epochs and ``best_epoch`` is the ``epoch`` count when the best
    score was reached (0: none yet).
    """

    epoch: int = 0
    best_score: float = math.nan
    best_epoch: int = 0
    bad_epochs: int = 0
    done: bool = False
    stop_reason: str = ""
    history: list[dict] = field(default_factory=list)

    @classmethod
    def start(cls, stopping: EarlyStopping) -> LoopState:
        """The state before the first epoch."""
        return cls(best_score=stopping.initial())

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a weights-only checkpoint."""
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> LoopState:
        """The state saved by :meth:`to_dict` (other keys of a checkpoint are ignored)."""
        return cls(
            epoch=int(saved["epoch"]), best_score=float(saved["best_score"]),
            best_epoch=int(saved["best_epoch"]), bad_epochs=int(saved["bad_epochs"]),
            done=bool(saved["done"]), stop_reason=str(saved["stop_reason"]),
            history=list(saved["history"]),
        )  # fmt: skip


@dataclass
class EpochResult:
    """One epoch's history row and its validation score (None when it did not validate)."""

    row: dict[str, Any]
    score: float | None = None


def run_epochs(
    state: LoopState,
    max_epochs: int,
    stopping: EarlyStopping,
    run_epoch: Callable[[int], EpochResult],
    on_best: Callable[[], None],
    save: Callable[[LoopState], None],
    after_epoch: Callable[[LoopState, EpochResult], None] | None = None,
    stop_after: int | None = None,
    improved_column: str | None = None,
) -> LoopState:
    """Run epochs until early stopping, ``max_epochs``, or ``stop_after`` epochs in this call.

    Per epoch: ``run_epoch(epoch)`` (0-based) trains and validates; a better score calls
    ``on_best()`` (save the best weights); the row goes to the history (with
    ``improved_column`` set to whether the score improved, when given); ``save(state)``
    writes the checkpoint; ``after_epoch(state, result)`` reports progress.
    """
    ran = 0
    while not state.done and (stop_after is None or ran < stop_after):
        result = run_epoch(state.epoch)
        ran += 1
        state.epoch += 1
        improved = result.score is not None and stopping.improves(result.score, state.best_score)
        if improved:
            state.best_score, state.best_epoch, state.bad_epochs = result.score, state.epoch, 0
            on_best()
        elif result.score is not None:
            state.bad_epochs += stopping.every
        if state.bad_epochs >= stopping.patience:
            state.done, state.stop_reason = True, "early_stopping"
        elif state.epoch >= max_epochs:
            state.done, state.stop_reason = True, "max_epochs"
        row = {**result.row, improved_column: improved} if improved_column else result.row
        state.history.append(row)
        save(state)
        if after_epoch is not None:
            after_epoch(state, result)
    return state
