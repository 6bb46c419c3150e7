"""User-facing errors: each names what is wrong, where, and what to do."""

from __future__ import annotations

from pathlib import Path


class RadiopipeError(Exception):
    """An error a user can act on; the CLI prints it without a traceback."""


class ConfigError(RadiopipeError):
    """A configuration file is missing, malformed or holds an invalid key or value."""


class InputError(RadiopipeError):
    """A patient's input file is missing, unreadable or inconsistent."""

    def __init__(
        self, problem: str, *, patient: str | None = None, file: str | Path | None = None
    ) -> None:
        self.patient = patient
        self.file = str(file) if file is not None else None
        self.problem = problem
        where = []
        if patient is not None:
            where.append(f"patient {patient}")
        if file is not None:
            where.append(f"file {file}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)


class ManifestError(RadiopipeError):
    """The cohort manifest cannot be read or lacks required columns."""
