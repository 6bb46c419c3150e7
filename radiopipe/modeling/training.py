"""``radiopipe train``: run a design, write predictions, folds, thresholds, funnel, selected
features, tuning history and the model artefact into the run folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from radiopipe.atomic import write_csv, write_json, write_parquet
from radiopipe.config import config_hash
from radiopipe.config.model import ModelConfig
from radiopipe.errors import InputError
from radiopipe.modeling import fusion as late_fusion
from radiopipe.modeling.checkpoint import Checkpoints, run_key
from radiopipe.modeling.diagnostics import selection_stability
from radiopipe.modeling.fitting import UnitResult, run_unit
from radiopipe.modeling.guards import check_before_fitting
from radiopipe.modeling.persistence import save_model
from radiopipe.modeling.tables import ModelData, load_model_data
from radiopipe.modeling.validation import (
    development_patients,
    outer_folds,
    plan_units,
    resolve_design,
    thresholds_from_oof,
)
from radiopipe.progress import track
from radiopipe.runs import RunFolder

log = logging.getLogger(__name__)

# Named outputs of the stage (files inside the run folder); ``model`` is the artefact's card,
# which holds the SHA-256 of every model file (load_model takes it or its folder).
OUTPUTS = {
    "predictions": "predictions.parquet",
    "folds": "folds.csv",
    "thresholds": "thresholds.json",
    "funnel": "funnel.csv",
    "selected_features": "selected_features.csv",
    "selection_stability": "selection_stability.csv",
    "tuning": "tuning.parquet",
    "model": "model/model.json",
}


@dataclass
class TrainResult:
    """Where the outputs went and the tables a caller may want to print."""

    out: Path
    design: str
    predictions: pd.DataFrame
    thresholds: dict[str, float]
    funnel: pd.DataFrame
    skipped: bool = False
    cpu_seconds: float = 0.0  # CPU time of the fits run now (checkpointed ones excluded)

    @property
    def outputs(self) -> dict[str, Path]:
        """The named output files (``OUTPUTS``), e.g. for ``radiopipe.stages``."""
        return {name: self.out / rel for name, rel in OUTPUTS.items()}


def train(
    features: str | Path,
    manifest: str | Path | None,
    config: ModelConfig,
    out: str | Path,
    force: bool = False,
) -> TrainResult:
    """Train and validate the radiomics models on a feature table; write everything to ``out``.

    ``features``: Parquet feature table (or radMLBench CSV); ``manifest``: cohort CSV (site,
    split, label, covariates; None for a table with its own labels); ``config``: settings;
    ``out``: run folder (created). Skips (``skipped=True``) when ``out`` already holds this
    run's outputs; resumes from finished outer folds after a crash; ``force`` retrains.
    """
    run = RunFolder.at(out)
    features, manifest = Path(features), Path(manifest) if manifest else None
    _check_inputs(features, manifest, config)
    icc_table = _optional(config.icc.table) if config.icc.enabled else None
    key = run_key(config_hash(config), features, manifest, icc_table, config.fusion.predictions)
    if not force and run.stage_done("train", key):
        log.info("train: outputs in %s are up to date (use --force to retrain)", run.root)
        return _reload(run.root)
    run.record(
        "train",
        config,
        seed=config.seed,
        manifest=manifest,
        extra={"features": str(features.resolve())},
    )
    handler = run.attach_log()
    try:
        result = _train(features, manifest, config, run, key)
    finally:
        logging.getLogger("radiopipe").removeHandler(handler)
        handler.close()
    run.mark_stage("train", key, list(result.outputs.values()), named=result.outputs)
    Checkpoints(run.root, key).clear()
    return result


def _train(
    features: Path, manifest: Path | None, config: ModelConfig, run: RunFolder, key: str
) -> TrainResult:
    data = load_model_data(features, manifest, config.harmonize.covariates, require_labels=False)
    design = resolve_design(config.design, data.splits)
    development = development_patients(data.splits, design)
    _check_labels(data, development)
    check_before_fitting(data, development, config)
    if config.harmonize.method == "combat" and not data.has_sites:
        log.info("no sites (no manifest): ComBat harmonisation skipped")
    if config.icc.enabled and config.icc.table is None:
        log.info("no ICC table given: the ICC robustness filter keeps every feature")
    log.info(
        "design %s: %d development patients, %d features",
        design,
        len(development),
        len(data.features),
    )
    cv = config.cv
    folds = outer_folds(
        data.labels.loc[development].astype(int),
        data.sites,
        cv.outer_folds,
        cv.outer_repeats,
        config.seed,
        cv.stratify_by_site,
    )
    write_csv(run.path("folds.csv"), folds)
    units = plan_units(folds, development, list(data.X.index), design)
    external = None
    if config.fusion.predictions is not None:
        external = late_fusion.read_external(config.fusion.predictions, str(config.fusion.model))
        log.info(
            "late fusion with %s: see radiopipe.modeling.fusion for the CV-fold caveat",
            config.fusion.model,
        )
    checkpoints = Checkpoints(run.root, key)
    results = _run_units(units, data, config, checkpoints, external, cv.outer_folds)
    predictions = pd.concat([r.predictions for r in results], ignore_index=True)
    thresholds = thresholds_from_oof(predictions)
    funnel = pd.concat([r.funnel for r in results], ignore_index=True)
    selected = pd.concat([r.selected for r in results], ignore_index=True)
    write_parquet(run.path("predictions.parquet"), predictions)
    write_json(run.path("thresholds.json"), thresholds)
    write_csv(run.path("funnel.csv"), funnel)
    write_csv(run.path("selected_features.csv"), selected)
    write_csv(run.path("selection_stability.csv"), selection_stability(selected))
    write_parquet(
        run.path("tuning.parquet"), pd.concat([r.tuning for r in results], ignore_index=True)
    )
    final = results[-1]
    card = {
        "design": design,
        "features": data.features,
        "has_sites": data.has_sites,
        "training_sites": sorted(set(data.sites.loc[development])) if data.has_sites else [],
        "covariates": data.covariates,
        "thresholds": thresholds,
        "models": sorted(set(final.predictions["model"])),
        "fusion_model": config.fusion.model,
        "n_training_patients": len(development),
        "seed": config.seed,
    }
    config_yaml = Path(run.path("config.resolved.yaml")).read_text(encoding="utf-8")
    save_model(run.path("model"), final.pipelines, card, config_yaml)
    cpu = sum(r.cpu_seconds for r in results)
    return TrainResult(run.root, design, predictions, thresholds, funnel, cpu_seconds=cpu)


def _run_units(
    units: list,
    data: ModelData,
    config: ModelConfig,
    checkpoints: Checkpoints,
    external: pd.DataFrame | None,
    n_folds: int,
) -> list[UnitResult]:
    """Run every unit (CV folds first, the final model last), resuming finished ones."""
    from joblib import Parallel, delayed

    done = {u.name: checkpoints.load(u.name) for u in units if not u.is_final}
    todo = [u for u in units if u.is_final or done.get(u.name) is None]
    if len(todo) < len(units):
        log.info("resuming: %d of %d fits already done", len(units) - len(todo), len(units))

    def fusion_for(unit):
        return None if external is None else late_fusion.values_for_unit(external, unit, n_folds)

    jobs = (delayed(run_unit)(u, data, config, fusion_for(u)) for u in todo)
    runner = Parallel(n_jobs=config.n_jobs, return_as="generator")
    for unit, result in zip(
        todo, track(runner(jobs), "fitting", total=len(todo), unit="fit"), strict=True
    ):
        if not unit.is_final:
            checkpoints.save(unit.name, result)
        done[unit.name] = result
        log.info(
            "%s done (%d training patients, %.0f s CPU)",
            unit.name,
            len(unit.train),
            result.cpu_seconds,
        )
    return [done[u.name] for u in units]


def _check_inputs(features: Path, manifest: Path | None, config: ModelConfig) -> None:
    """Every input file exists before any work starts."""
    named = [("feature table", features), ("manifest", manifest)]
    if config.icc.enabled:
        named.append(("ICC table (icc.table)", _optional(config.icc.table)))
    named.append(("late-fusion predictions (fusion.predictions)", config.fusion.predictions))
    for what, path in named:
        if path is not None and not Path(path).is_file():
            raise InputError(f"{what} does not exist", file=path)


def _check_labels(data: ModelData, development: list[str]) -> None:
    missing = data.labels.loc[development].isna()
    if missing.any():
        raise InputError(
            f"no outcome label for training patient(s) {', '.join(missing.index[missing][:10])}"
        )


def _optional(path: Path | None) -> Path | None:
    return Path(path) if path is not None else None


def _reload(out: Path) -> TrainResult:
    """The result of an earlier, identical run, read back from its files."""
    import json

    predictions = pd.read_parquet(out / "predictions.parquet")
    thresholds = json.loads((out / "thresholds.json").read_text())
    card = json.loads((out / "model" / "model.json").read_text())
    funnel = pd.read_csv(out / "funnel.csv")
    return TrainResult(out, card["design"], predictions, thresholds, funnel, skipped=True)
