"""Input checks shared by the statistics: binary labels, finite scores, both classes present."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from radiopipe.errors import RadiopipeError

DIRECTIONS = ("<", ">", "auto")


class StatsInputError(RadiopipeError):
    """Data handed to a statistic cannot give a valid result (names model, split, patient)."""


def _where(where: str) -> str:
    return f"{where}: " if where else ""


def _names(ids: Sequence[object] | None, positions: np.ndarray, limit: int = 10) -> str:
    """Patient ids (or row positions) of offending entries, for an error message."""
    picked = positions[:limit]
    if ids is not None:
        shown = ", ".join(str(ids[i]) for i in picked)
        label = "patient(s)"
    else:
        shown = ", ".join(str(i) for i in picked)
        label = "row(s)"
    more = f" and {len(positions) - limit} more" if len(positions) > limit else ""
    return f"{label} {shown}{more}"


def binary_labels(
    y: npt.ArrayLike, where: str = "", ids: Sequence[object] | None = None
) -> np.ndarray:
    """Labels as an int array of 0/1; anything else is an error naming the offending rows."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise StatsInputError(f"{_where(where)}labels must be one-dimensional, got {arr.shape}")
    if arr.dtype.kind in "biuf":
        bad = np.flatnonzero(~np.isin(arr, (0, 1)))
    else:
        bad = np.array([i for i, v in enumerate(arr) if not _is_zero_or_one(v)], dtype=int)
    if bad.size:
        values = ", ".join(
            repr(arr[i].item() if hasattr(arr[i], "item") else arr[i]) for i in bad[:5]
        )
        raise StatsInputError(
            f"{_where(where)}labels must be 0 or 1; {_names(ids, bad)} have {values}"
        )
    return arr.astype(float).astype(int)


def _is_zero_or_one(value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return True
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return number in (0.0, 1.0)


def finite_scores(
    score: npt.ArrayLike, where: str = "", ids: Sequence[object] | None = None
) -> np.ndarray:
    """Scores as a float array; NaN or infinite values are an error naming the rows."""
    try:
        arr = np.asarray(score, dtype=float)
    except (TypeError, ValueError):
        raise StatsInputError(f"{_where(where)}scores must be numbers") from None
    if arr.ndim != 1:
        raise StatsInputError(f"{_where(where)}scores must be one-dimensional, got {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise StatsInputError(f"{_where(where)}missing or infinite score for {_names(ids, bad)}")
    return arr


def probabilities(
    p: npt.ArrayLike, where: str = "", ids: Sequence[object] | None = None
) -> np.ndarray:
    """Predicted probabilities: finite and within [0, 1]."""
    arr = finite_scores(p, where, ids)
    bad = np.flatnonzero((arr < 0) | (arr > 1))
    if bad.size:
        raise StatsInputError(
            f"{_where(where)}probabilities must lie in [0, 1]; {_names(ids, bad)} have "
            f"{', '.join(f'{arr[i]:g}' for i in bad[:5])}"
        )
    return arr


def labels_and_scores(
    y: npt.ArrayLike,
    score: npt.ArrayLike,
    where: str = "",
    ids: Sequence[object] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Checked labels and scores of equal length with both classes present."""
    labels = binary_labels(y, where, ids)
    scores = finite_scores(score, where, ids)
    if labels.shape != scores.shape:
        raise StatsInputError(
            f"{_where(where)}{labels.size} labels but {scores.size} scores; they must pair up"
        )
    require_both_classes(labels, where)
    return labels, scores


def require_both_classes(y: np.ndarray, where: str = "") -> None:
    """An AUC needs at least one case (1) and one control (0)."""
    n_pos = int(np.sum(y == 1))
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        present = "1 (cases)" if n_pos else "0 (controls)"
        raise StatsInputError(
            f"{_where(where)}only label {present} present ({y.size} patients); ROC statistics "
            "need both classes"
        )


def check_direction(direction: str) -> str:
    """Validate a ROC direction ('<': controls score lower, '>': controls higher, 'auto')."""
    if direction not in DIRECTIONS:
        raise StatsInputError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return direction


def check_confidence(confidence: float) -> float:
    """A confidence level strictly between 0 and 1."""
    if not 0 < confidence < 1:
        raise StatsInputError(f"confidence level must lie in (0, 1), got {confidence}")
    return float(confidence)
