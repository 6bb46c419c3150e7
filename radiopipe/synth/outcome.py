"""The outcome model: hidden lesion properties -> log-odds of a favourable ablation response.

Each patient has five latent standard-normal scores ``g`` (cellularity, vascularity,
heterogeneity, degeneration, abdominal fat), correlated as in ``CORRELATION``. The log-odds is

    eta = intercept + effect_size * (w . g),    P(label = 1) = 1 / (1 + exp(-eta))

where ``w`` are the direction weights ``DIRECTIONS`` rescaled so that ``w . g`` has unit
variance. ``effect_size`` is therefore the standard deviation of the log-odds explained by the
hidden properties, and ``intercept`` is solved so that the expected positive fraction over the
population equals ``positive_fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, logit

from radiopipe.config.synth import DEFAULT_EFFECT_SIZE, DEFAULT_POSITIVE_FRACTION

__all__ = [
    "DEFAULT_EFFECT_SIZE",
    "DEFAULT_POSITIVE_FRACTION",
    "OutcomeModel",
    "calibrate_intercept",
]

LATENTS = ("cellularity", "vascularity", "heterogeneity", "degeneration", "fat")

# Clinical directions (before rescaling): T2-bright (cellular) and strongly enhancing
# (vascular) fibroids, heterogeneous ones and thick abdominal fat respond worse; lesions with
# pre-existing degeneration (non-perfused patches) reach a high non-perfused volume ratio more
# easily.
DIRECTIONS = {
    "cellularity": -1.0,
    "vascularity": -1.0,
    "heterogeneity": -0.6,
    "degeneration": 0.5,
    "fat": -0.5,
}

# Cellular fibroids are also better vascularised.
CORRELATION = {("cellularity", "vascularity"): 0.3}


def correlation_matrix() -> np.ndarray:
    """Correlation of the latent scores, in ``LATENTS`` order."""
    corr = np.eye(len(LATENTS))
    for (a, b), r in CORRELATION.items():
        i, j = LATENTS.index(a), LATENTS.index(b)
        corr[i, j] = corr[j, i] = r
    return corr


@dataclass(frozen=True)
class OutcomeModel:
    """Logistic outcome model with calibrated intercept."""

    effect_size: float
    positive_fraction: float
    coefficients: tuple[float, ...]  # per latent, already multiplied by effect_size
    intercept: float

    @classmethod
    def calibrated(cls, effect_size: float, positive_fraction: float) -> OutcomeModel:
        """Model whose expected positive fraction over the population is ``positive_fraction``."""
        raw = np.array([DIRECTIONS[name] for name in LATENTS])
        unit = raw / np.sqrt(raw @ correlation_matrix() @ raw)
        coefficients = effect_size * unit
        intercept = calibrate_intercept(effect_size, positive_fraction)
        return cls(
            effect_size=float(effect_size),
            positive_fraction=float(positive_fraction),
            coefficients=tuple(round(float(c), 12) for c in coefficients),
            intercept=round(intercept, 12),
        )

    def linear_predictor(self, latents: np.ndarray) -> np.ndarray:
        """Log-odds for latent scores of shape (..., 5)."""
        return self.intercept + np.asarray(latents) @ np.asarray(self.coefficients)

    def probability(self, latents: np.ndarray) -> np.ndarray:
        """P(favourable response) for latent scores of shape (..., 5)."""
        return expit(self.linear_predictor(latents))

    def as_dict(self) -> dict:
        """Plain-data form for synth.json."""
        return {
            "equation": "P(label=1) = 1 / (1 + exp(-(intercept + sum_k coefficient_k * g_k)))",
            "latents": list(LATENTS),
            "directions": DIRECTIONS,
            "correlation": {f"{a}~{b}": r for (a, b), r in CORRELATION.items()},
            "effect_size": self.effect_size,
            "positive_fraction": self.positive_fraction,
            "coefficients": dict(zip(LATENTS, self.coefficients, strict=True)),
            "intercept": self.intercept,
        }


def calibrate_intercept(effect_size: float, positive_fraction: float) -> float:
    """Intercept b with E[expit(b + s Z)] = positive_fraction, Z ~ N(0, 1) (Gauss-Hermite)."""
    if not 0.0 < positive_fraction < 1.0:
        raise ValueError(
            f"positive_fraction must lie strictly between 0 and 1, not {positive_fraction}"
        )
    if effect_size == 0:
        return float(logit(positive_fraction))
    nodes, weights = np.polynomial.hermite_e.hermegauss(96)
    weights = weights / weights.sum()

    def gap(b: float) -> float:
        return float(weights @ expit(b + effect_size * nodes)) - positive_fraction

    bound = 5.0 + 3.0 * effect_size
    return float(brentq(gap, -bound, bound, xtol=1e-12))
