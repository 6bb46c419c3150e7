"""Settings that earlier radiopipe versions accepted and this one no longer uses.

One table for every settings model: an old configuration file that still holds such a key is
read, the key is dropped with a warning saying why, and nothing else changes. Keys that were
renamed (not retired) stay aliases on their model instead (e.g. ``harmonize:``).
"""

from __future__ import annotations

RETIRED: dict[str, dict[str, str]] = {
    "ReportConfig": {
        "primary_splits": (
            "the first page no longer picks the best model on a test split; it reports the "
            "pre-specified reference model (evaluate.reference, fixed in design/design.json)"
        ),
    },
}
