"""The synthetic multi-centre pelvic MRI cohort (the embedded default data).

``generate_cohort(out_dir, sites={"A": 300, "B": 60}, seed=0)`` writes per patient a T2WI and
a CE-T1WI NIfTI volume with lesion masks, clinical covariates, a binary outcome driven by the
lesion's hidden tissue properties, a train / internal_test / external_test split and the
manifest. See docs/synthetic_cohort.md for the generative model.
"""

from radiopipe.synth.cohort import (
    MANIFEST_FILE,
    PARAMS_FILE,
    TRUTH_FILE,
    cohort_parameters,
    generate_cohort,
)
from radiopipe.synth.scanner import PRESETS, SIZES, scanner_for

__all__ = [
    "MANIFEST_FILE",
    "PARAMS_FILE",
    "PRESETS",
    "SIZES",
    "TRUTH_FILE",
    "cohort_parameters",
    "generate_cohort",
    "scanner_for",
]
