"""The stage graph behind ``radiopipe run``: one study, from cohort to report, resumable.

Stages run in order; each reads only what earlier stages wrote and writes only its own
sub-folder of ``runs/<name>/``. The engine (:mod:`radiopipe.pipeline.engine`) skips a stage
that finished before for the same settings and input files, so re-running after a crash or a
settings change redoes only what is out of date; ``force`` redoes a stage from scratch and
every stage that reads it.
"""

from radiopipe.pipeline.graph import PipelineResult, build_stages, run_pipeline

__all__ = ["PipelineResult", "build_stages", "run_pipeline"]
