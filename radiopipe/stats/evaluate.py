"""The evaluate stage: predictions (+ thresholds, manifest) in, every validation table out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.atomic import write_csv, write_json, write_parquet
from radiopipe.config.evaluate import EvaluateConfig
from radiopipe.contracts import EvaluateLayout
from radiopipe.progress import progress_bar
from radiopipe.runs import package_versions
from radiopipe.stats.best import best_comparisons
from radiopipe.stats.checks import StatsInputError
from radiopipe.stats.cohort_table import cohort_table
from radiopipe.stats.comparisons import paired_comparisons, unpaired_comparisons
from radiopipe.stats.performance import (
    fold_auc_table,
    performance_table,
    read_fold_thresholds,
    read_thresholds,
    resolve_thresholds,
)
from radiopipe.stats.predictions import read_predictions
from radiopipe.stats.reclassification import clinical_comparisons
from radiopipe.stats.sensitivity import harmonisation_sensitivity
from radiopipe.stats.tables import (
    calibration_table,
    decision_curve_table,
    reliability_table,
    roc_curve_table,
)

log = logging.getLogger(__name__)

STAGE = "evaluate"
_FILES = EvaluateLayout.FILES
PERFORMANCE, DELONG, FOLD_AUC = _FILES["performance"], _FILES["delong"], _FILES["fold_auc"]
CALIBRATION, RELIABILITY = _FILES["calibration"], _FILES["reliability"]
DECISION_CURVE, ROC_CURVES = _FILES["decision_curve"], _FILES["roc_curves"]
COHORT_TABLE, THRESHOLDS_USED = _FILES["cohort_table"], _FILES["thresholds_used"]
BEST_COMPARISONS = _FILES["best_comparisons"]
KNOWN_ANSWER, KNOWN_FEATURES = _FILES["known_answer"], _FILES["known_answer_features"]
HARMONISATION_SENSITIVITY = _FILES["harmonisation_sensitivity"]
CLINICAL_COMPARISONS = _FILES["clinical_comparisons"]


@dataclass
class Evaluation:
    """What the evaluate stage wrote, and the tables themselves."""

    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def evaluate(
    predictions: str | Path,
    out: str | Path,
    thresholds: str | Path | None = None,
    manifest: str | Path | None = None,
    config: EvaluateConfig | None = None,
    features: str | Path | None = None,
    selected_features: str | Path | None = None,
    design: str | Path | None = None,
    fold_thresholds: str | Path | None = None,
    sensitivity_predictions: str | Path | None = None,
) -> Evaluation:
    """Compute every validation table and write it into the folder ``out`` (atomically).

    A plain function of its inputs: skipping an up-to-date evaluation, the provenance and the
    log are the stage engine's business (radiopipe.pipeline.engine). When the manifest's
    cohort knows its answer (a synthetic cohort's ``truth.csv`` beside the manifest), the
    known-answer tables are written too; ``features`` and ``selected_features`` (the extract
    and train stages' tables) add each selected feature's correlation with the hidden
    properties. ``design`` (``design/design.json``) holds the reference model pre-specified
    before any fit; it must be the evaluate settings' ``reference``. ``fold_thresholds``
    (train's ``fold_thresholds.csv``, nested CV) gives each outer fold's threshold, chosen on
    that fold's own training patients; the pooled ``cv`` threshold metrics use them.
    ``sensitivity_predictions`` (train's harmonisation sensitivity predictions) adds
    ``harmonisation_sensitivity.csv``: AUC per split, model and harmonisation (estimate as
    trained, passthrough, none).
    """
    config = config or EvaluateConfig()
    if design is not None:
        config = _with_design_reference(config, Path(design))
    predictions = Path(predictions)
    thresholds = Path(thresholds) if thresholds else None
    manifest = Path(manifest) if manifest else None
    for path, what in ((predictions, "predictions"), (thresholds, "thresholds"),
                       (manifest, "manifest")):  # fmt: skip
        if path is not None and not path.is_file():
            raise StatsInputError(f"{path}: {what} file does not exist")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = read_predictions(predictions)
    given = read_thresholds(thresholds) if thresholds else None
    per_fold = read_fold_thresholds(fold_thresholds) if fold_thresholds else None
    cohort = _read_cohort(manifest) if manifest else None  # fail early, before the work
    if cohort is not None:
        _check_labels_agree(frame, cohort, manifest)
    result = Evaluation(out)
    steps = _steps(frame, given, cohort, config, per_fold)
    steps += _known_answer_steps(frame, manifest, features, selected_features)
    if sensitivity_predictions is not None:
        sensitivity = pd.read_parquet(sensitivity_predictions)
        if not sensitivity.empty:
            steps.append((
                HARMONISATION_SENSITIVITY,
                lambda _: harmonisation_sensitivity(frame, sensitivity, config.confidence),
                write_csv,
            ))  # fmt: skip
    with progress_bar() as bar:
        task = bar.add_task("evaluate", total=len(steps), rate="", status="")
        for name, compute, write in steps:
            bar.update(task, status=name)
            table = compute(result.tables)
            result.tables[name] = table
            result.files[name] = write(out / name, table)
            log.info("wrote %s (%d rows)", out / name, len(table))
            bar.advance(task)
    return result


def provenance_extra() -> dict:
    """What the evaluate stage adds to its provenance record."""
    return {"stats_packages": package_versions(("statsmodels",))}


Step = tuple[str, Callable[[dict[str, pd.DataFrame]], pd.DataFrame], Callable[..., Path]]


def _steps(
    frame: pd.DataFrame,
    given: dict[str, float] | None,
    cohort: pd.DataFrame | None,
    config: EvaluateConfig,
    per_fold: pd.DataFrame | None = None,
) -> list[Step]:
    """The tables in the order they are computed: (file name, compute, writer)."""
    boot = {"n_resamples": config.n_bootstrap, "seed": config.seed}
    conf = config.confidence

    def comparisons(_: dict[str, pd.DataFrame]) -> pd.DataFrame:
        paired = paired_comparisons(frame, config.reference, conf, **boot, compare=config.compare)
        unpaired = unpaired_comparisons(frame, config.unpaired, conf)
        return pd.concat([t for t in (paired, unpaired) if not t.empty] or [paired])

    def performance(done: dict[str, pd.DataFrame]) -> pd.DataFrame:
        return performance_table(
            frame, given, confidence=conf, reference=config.reference,
            comparisons=done[DELONG], fold_thresholds=per_fold, **boot,
        )  # fmt: skip

    def best(done: dict[str, pd.DataFrame]) -> pd.DataFrame:
        return best_comparisons(frame, done[PERFORMANCE], conf, **boot)

    def reliability(_: dict[str, pd.DataFrame]) -> pd.DataFrame:
        bins, strategy = config.reliability_bins, config.reliability_strategy
        return reliability_table(frame, bins, strategy, conf)

    def roc(_: dict[str, pd.DataFrame]) -> pd.DataFrame:
        grid = np.linspace(0.0, 1.0, config.roc_grid_points)
        return roc_curve_table(frame, grid, confidence=conf, **boot)

    steps: list[Step] = [
        (THRESHOLDS_USED, lambda _: _thresholds_frame(frame, given), _write_thresholds),
        (DELONG, comparisons, write_csv),
        (PERFORMANCE, performance, write_csv),
        (BEST_COMPARISONS, best, write_csv),
        (FOLD_AUC, lambda _: fold_auc_table(frame), write_csv),
        (CALIBRATION, lambda _: calibration_table(frame, conf), write_csv),
        (RELIABILITY, reliability, write_csv),
        (DECISION_CURVE, lambda _: decision_curve_table(frame, config.decision_curve.grid()),
         write_csv),
        (ROC_CURVES, roc, write_parquet),
    ]  # fmt: skip
    if "clinical" in set(frame["model"]):  # clinical vs rad-score vs stack vs combined
        steps.append((CLINICAL_COMPARISONS,
                      lambda _: clinical_comparisons(frame, conf, **boot), write_csv))  # fmt: skip
    if cohort is not None:
        steps.append((COHORT_TABLE, lambda _: _cohort(cohort, config), write_csv))
    return steps


def _known_answer_steps(
    frame: pd.DataFrame,
    manifest: Path | None,
    features: str | Path | None,
    selected: str | Path | None,
) -> list[Step]:
    """The known-answer tables, for a cohort whose truth is known (never a real cohort)."""
    from radiopipe.stats import known_answer as known

    truth_path = known.find_truth(manifest)
    if truth_path is None:
        return []
    truth = known.read_truth(truth_path)
    steps: list[Step] = [(KNOWN_ANSWER, lambda _: known.known_answer(frame, truth), write_csv)]
    if features is not None and selected is not None:

        def features_table(_: dict[str, pd.DataFrame]) -> pd.DataFrame:
            table = pd.read_parquet(features)
            return known.known_answer_features(table, pd.read_csv(selected), truth)

        steps.append((KNOWN_FEATURES, features_table, write_csv))
    return steps


def _with_design_reference(config: EvaluateConfig, design: Path) -> EvaluateConfig:
    """The settings, checked against the reference that design.json fixed before any fit."""
    from radiopipe.modeling.design import read_design

    fixed = read_design(design)[0].reference
    if fixed != config.reference:
        raise StatsInputError(
            f"{design}: the pre-specified reference model is {fixed!r} but evaluate.reference "
            f"is {config.reference!r}; the reference cannot change after the design was fixed "
            "(re-run the design stage, then train, to change it)"
        )
    return config


def _cohort(table: pd.DataFrame, config: EvaluateConfig) -> pd.DataFrame:
    settings = config.cohort_table
    covariates = settings.covariates
    if covariates is None:
        covariates = [c for c in table.attrs["covariates"] if c not in settings.by]
    return cohort_table(
        table, covariates, by=settings.by, categorical=settings.categorical,
        continuous=settings.continuous, label_names=settings.label_names,
        normality_alpha=settings.normality_alpha, digits=settings.digits, seed=config.seed,
    )  # fmt: skip


def _read_cohort(manifest: Path) -> pd.DataFrame:
    from radiopipe.cohort.manifest import read_manifest

    cohort = read_manifest(manifest)
    table = cohort.table.copy()
    table.attrs["covariates"] = cohort.covariates
    return table


def _check_labels_agree(frame: pd.DataFrame, cohort: pd.DataFrame, manifest: Path) -> None:
    """The outcome copied into the predictions must be the manifest's."""
    truth = cohort.set_index("patient_id")["label"].astype(str).str.strip()
    found = frame.drop_duplicates("patient_id").set_index("patient_id")["label"].astype(str)
    absent = sorted(set(found.index) - set(truth.index))
    if absent:
        log.warning("%d predicted patient(s) not in %s, e.g. %s", len(absent), manifest, absent[:5])
    common = found.index.intersection(truth.index)
    differ = [p for p in common if truth[p] != "" and truth[p] != found[p]]
    if differ:
        shown = ", ".join(f"{p} ({found[p]} vs {truth[p]})" for p in differ[:10])
        raise StatsInputError(
            f"labels in the predictions disagree with {manifest} for {len(differ)} patient(s): "
            f"{shown}; re-run the stage that wrote the predictions on this manifest"
        )


def _thresholds_frame(frame: pd.DataFrame, given: dict[str, float] | None) -> pd.DataFrame:
    resolved = resolve_thresholds(frame, given)
    return pd.DataFrame(
        [{"model": m, "threshold": t, "source": s} for m, (t, s) in resolved.items()]
    )


def _write_thresholds(path: Path, table: pd.DataFrame) -> Path:
    return write_json(
        path,
        {r.model: {"threshold": r.threshold, "source": r.source} for r in table.itertuples()},
    )
