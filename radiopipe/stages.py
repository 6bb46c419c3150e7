"""Old import path of the stage engine; the engine lives in :mod:`radiopipe.pipeline.engine`."""

from radiopipe.pipeline.engine import (
    MANIFEST,
    Context,
    From,
    Outputs,
    Stage,
    StageCall,
    StageReport,
    execute,
    run_single,
    run_stages,
)

__all__ = [
    "MANIFEST", "Context", "From", "Outputs", "Stage", "StageCall", "StageReport",
    "execute", "run_single", "run_stages",
]  # fmt: skip
