"""The deep stage of a study run: one CNN / ViT trained on the design stage's folds.

``run_deep_stage`` is what ``radiopipe run`` calls for each model of ``deep.models`` (the
library entry is :func:`radiopipe.deep.runner.train_deep`, the training loop of one fit
:class:`radiopipe.deep.trainer.Trainer`). It resumes a folder holding an interrupted run of
the same settings and starts again in one holding a run of other settings.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from radiopipe.cohort.manifest import read_manifest
from radiopipe.config import load_config
from radiopipe.config.deep import DeepConfig
from radiopipe.deep import runner
from radiopipe.deep.runner import STATE_FILE, DeepRun, run_state

log = logging.getLogger(__name__)


def run_deep_stage(
    manifest: str | Path, design: str | Path, config: DeepConfig | str | Path, out: str | Path
) -> DeepRun:
    """Train on the design stage's folds into ``out``, resuming a run of the same settings; a
    folder holding a run of other settings is started again.

    ``design`` is the design stage's folder (``design.json`` and ``folds.csv``).
    """
    from radiopipe.modeling.design import FOLDS_FILE, read_design

    if not isinstance(config, DeepConfig):
        config = load_config(config, DeepConfig)
    resolved, _ = read_design(design)
    folds = Path(design) / FOLDS_FILE
    state = run_state(read_manifest(manifest), config, folds, resolved.design)
    marker = Path(out) / STATE_FILE
    previous = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None
    stale = previous is not None and previous != state
    if stale:
        log.warning("%s holds a deep run of other settings; starting again", out)
    return runner.train_deep(
        manifest, config, out, folds, resume=previous == state, overwrite=stale,
        design=resolved.design,
    )  # fmt: skip
