"""Validation statistics: ROC/DeLong, bootstrap, thresholds, calibration, decision curves,
multiplicity, the cohort table and the performance table built from ``predictions.parquet``.

Conventions: label 1 is the event (case), label 0 the control; a higher probability means
"more likely label 1" (pROC's ``direction="<"``); CIs are two-sided at ``confidence``;
bootstrap resamples are stratified by outcome and seeded.
"""

from radiopipe.stats.bootstrap import (
    BootstrapCI,
    StratifiedBootstrap,
    auc_bootstrap_ci,
    bootstrap_auc,
    percentile_ci,
)
from radiopipe.stats.calibration import (
    brier_score,
    calibration_intercept_slope,
    calibration_summary,
    reliability_curve,
)
from radiopipe.stats.checks import StatsInputError
from radiopipe.stats.cohort_table import cohort_table
from radiopipe.stats.comparisons import paired_comparisons, unpaired_comparisons
from radiopipe.stats.curves import roc_band, roc_points
from radiopipe.stats.decision import decision_curve
from radiopipe.stats.delong import (
    AUCResult,
    PairedDelongResult,
    UnpairedDelongResult,
    auc_delong,
    delong_covariance,
    delong_test,
    delong_test_unpaired,
)
from radiopipe.stats.multiplicity import holm
from radiopipe.stats.performance import fold_auc_table, performance_table, read_thresholds
from radiopipe.stats.predictions import check_predictions, read_predictions
from radiopipe.stats.thresholds import (
    YoudenPoint,
    threshold_metrics,
    threshold_metrics_ci,
    youden_threshold,
)

__all__ = [
    "AUCResult",
    "BootstrapCI",
    "PairedDelongResult",
    "StatsInputError",
    "StratifiedBootstrap",
    "UnpairedDelongResult",
    "YoudenPoint",
    "auc_bootstrap_ci",
    "auc_delong",
    "bootstrap_auc",
    "brier_score",
    "calibration_intercept_slope",
    "calibration_summary",
    "check_predictions",
    "cohort_table",
    "decision_curve",
    "delong_covariance",
    "delong_test",
    "delong_test_unpaired",
    "fold_auc_table",
    "holm",
    "paired_comparisons",
    "percentile_ci",
    "performance_table",
    "read_predictions",
    "read_thresholds",
    "reliability_curve",
    "roc_band",
    "roc_points",
    "threshold_metrics",
    "threshold_metrics_ci",
    "unpaired_comparisons",
    "youden_threshold",
]
