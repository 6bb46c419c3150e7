"""Number formatting for clinical tables: fixed decimals, en-dash ranges, p-values."""

from __future__ import annotations

import math

from radiopipe.stats.cohort_table import format_p

DASH = "\u2013"
MINUS = "\u2212"

__all__ = ["ci", "format_p", "num", "p_text", "pct", "signed"]


def _missing(value: object) -> bool:
    try:
        return value is None or math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def num(value: object, digits: int = 3) -> str:
    """A number with fixed decimals and a true minus sign; '–' (en dash) when missing."""
    if _missing(value):
        return DASH
    text = f"{float(value):.{digits}f}"  # type: ignore[arg-type]
    return text.replace("-", MINUS)


def signed(value: object, digits: int = 3) -> str:
    """A difference with its sign (+0.012, −0.034)."""
    if _missing(value):
        return DASH
    if round(float(value), digits) == 0:  # type: ignore[arg-type]
        return num(0.0, digits)
    return ("+" if float(value) > 0 else "") + num(value, digits)  # type: ignore[arg-type]


def ci(low: object, high: object, digits: int = 3) -> str:
    """A confidence interval '0.761–0.952' (empty when missing)."""
    if _missing(low) or _missing(high):
        return ""
    return f"{num(low, digits)}{DASH}{num(high, digits)}"


def pct(value: object, digits: int = 1) -> str:
    """A proportion as a percentage."""
    if _missing(value):
        return DASH
    return f"{100 * float(value):.{digits}f}%"  # type: ignore[arg-type]


def p_text(value: object) -> str:
    """A p-value as printed ('<0.001', '0.031'); '–' when missing."""
    return DASH if _missing(value) else format_p(float(value))  # type: ignore[arg-type]
