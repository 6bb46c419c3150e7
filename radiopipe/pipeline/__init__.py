"""The stage graph behind ``radiopipe run``: one study, from cohort to report, resumable.

Stages run in order; each reads only what earlier stages wrote and writes only its own
sub-folder of ``runs/<name>/``. A stage is skipped when it finished before for the same
settings and input files (radiopipe.stages), so re-running after a crash or a settings
change redoes only what is out of date.
"""

from radiopipe.pipeline.graph import PipelineResult, build_stages, run_pipeline

__all__ = ["PipelineResult", "build_stages", "run_pipeline"]
