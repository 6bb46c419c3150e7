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
from radiopipe.contracts import TrainLayout
from radiopipe.errors import InputError
from radiopipe.modeling import fold_thresholds, sensitivity
from radiopipe.modeling import fusion as late_fusion
from radiopipe.modeling.clinical_outputs import load_clinical
from radiopipe.modeling.clinical_outputs import write_outputs as write_clinical_outputs
from radiopipe.modeling.design import DesignSettings, make_design, read_design
from radiopipe.modeling.diagnostics import selection_stability
from radiopipe.modeling.fitting import UnitResult, run_unit
from radiopipe.modeling.guards import check_before_fitting
from radiopipe.modeling.persistence import save_model
from radiopipe.modeling.repeats import per_repeat_auc
from radiopipe.modeling.site_effects import write_harmonisation
from radiopipe.modeling.tables import ModelData, load_model_data
from radiopipe.modeling.unit_cache import Checkpoints, run_key
from radiopipe.modeling.validation import development_patients, plan_units, thresholds_from_oof
from radiopipe.progress import track

log = logging.getLogger(__name__)

# Named outputs of the stage (files inside the run folder); ``model`` is the artefact's card,
# which holds the SHA-256 of every model file (load_model takes it or its folder).
OUTPUTS = {name: TrainLayout.FILES[name] for name in TrainLayout.OUTPUTS}


@dataclass
class TrainResult:
    """Where the outputs went and the tables a caller may want to print."""

    out: Path
    design: str
    predictions: pd.DataFrame
    thresholds: dict[str, float]
    funnel: pd.DataFrame
    cpu_seconds: float = 0.0  # CPU time of the fits run now (checkpointed ones excluded)

    @property
    def outputs(self) -> dict[str, Path]:
        """The named output files (``OUTPUTS``), e.g. for the stage engine."""
        return {name: self.out / rel for name, rel in OUTPUTS.items()}


def train(
    features: str | Path,
    manifest: str | Path | None,
    config: ModelConfig,
    out: str | Path,
    design: str | Path | None = None,
) -> TrainResult:
    """Train and validate the radiomics models on a feature table; write everything to ``out``.

    ``features``: Parquet feature table (or radMLBench CSV); ``manifest``: cohort CSV (site,
    split, label, covariates; None for a table with its own labels); ``config``: settings;
    ``out``: output folder (created); ``design``: the design stage's folder (its folds are
    used as they are; without it the design is drawn here from the same settings).
    Resumes from finished outer folds after a crash (``out/.checkpoints``); skipping a
    finished run and provenance are the stage engine's business (radiopipe.pipeline.engine).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    features, manifest = Path(features), Path(manifest) if manifest else None
    _check_inputs(features, manifest, config)
    icc_table = _optional(config.icc.table) if config.icc.enabled else None
    key = run_key(config_hash(config), features, manifest, icc_table, config.fusion.predictions)
    result = _train(features, manifest, config, out, key, design)
    Checkpoints(out, key).clear()
    return result


def _train(
    features: Path,
    manifest: Path | None,
    config: ModelConfig,
    out: Path,
    key: str,
    design_folder: str | Path | None,
) -> TrainResult:
    data = load_model_data(
        features,
        manifest,
        config.harmonise.covariates,
        require_labels=False,
        batch=config.harmonise.batch,
    )
    if config.clinical.enabled:
        data.clinical = load_clinical(manifest, list(config.clinical.covariates))
    design, folds = _design(data, config, design_folder)
    development = development_patients(data.splits, design)
    _check_labels(data, development)
    check_before_fitting(data, development, config)
    if config.harmonise.method == "combat" and not data.has_sites:
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
    write_csv(TrainLayout(out).folds, folds)
    units = plan_units(folds, development, list(data.X.index), design)
    external = None
    if config.fusion.predictions is not None:
        external = late_fusion.read_external(config.fusion.predictions, str(config.fusion.model))
        log.info(
            "late fusion with %s: see radiopipe.modeling.fusion for the CV-fold caveat",
            config.fusion.model,
        )
    checkpoints = Checkpoints(out, key)
    results = _run_units(units, data, config, checkpoints, external, cv.outer_folds)
    predictions = pd.concat([r.predictions for r in results], ignore_index=True)
    thresholds = thresholds_from_oof(predictions)
    funnel = pd.concat([r.funnel for r in results], ignore_index=True)
    selected = pd.concat([r.selected for r in results], ignore_index=True)
    layout = TrainLayout(out)
    write_parquet(layout.predictions, predictions)
    write_json(layout.thresholds, thresholds)
    per_fold = [r.thresholds for r in results if not r.thresholds.empty]
    write_csv(
        layout.fold_thresholds,
        pd.concat(per_fold, ignore_index=True) if per_fold else fold_thresholds.empty(),
    )
    write_csv(layout.funnel, funnel)
    write_csv(layout.selected_features, selected)
    write_csv(layout.selection_stability, selection_stability(selected))
    write_parquet(layout.tuning, pd.concat([r.tuning for r in results], ignore_index=True))
    write_clinical_outputs(out, results, data.labels)
    n_folds = int(folds["fold"].max()) + 1
    write_csv(layout.cv_repeats, per_repeat_auc(predictions, n_folds))
    final = results[-1]
    card = {
        "design": design,
        "features": data.features,
        "has_sites": data.has_sites,
        "batch": config.harmonise.batch,
        "training_sites": sorted(set(data.sites.loc[development])) if data.has_sites else [],
        "covariates": data.covariates,
        "thresholds": thresholds,
        "models": sorted(set(final.predictions["model"])),
        "fusion_model": config.fusion.model,
        "n_training_patients": len(development),
        "seed": config.seed,
        "clinical_model": final.clinical_spec or None,
    }
    save_model(layout.model_dir, final.pipelines, card, resolved_yaml(config))
    write_harmonisation(out, features, data.sites, config.harmonise.method,
                        final.pipelines.get("stack"), data.X, config.seed)  # fmt: skip
    cpu = sum(r.cpu_seconds for r in results)
    write_parquet(
        layout.sensitivity_predictions,
        _sensitivity(units, data, config, final, out, key, external, results),
    )
    return TrainResult(out, design, predictions, thresholds, funnel, cpu_seconds=cpu)


def _design(
    data: ModelData, config: ModelConfig, folder: str | Path | None
) -> tuple[str, pd.DataFrame]:
    """The design and outer folds: the design stage's, or drawn now from the same settings."""
    if folder is None:
        design, folds = make_design(data.labels, data.sites, data.splits, DesignSettings.of(config))
        return design.design, folds
    design, folds = read_design(folder)
    expected = set(development_patients(data.splits, design.design))
    in_folds = set(folds["patient_id"])
    if in_folds != expected:
        odd = sorted(in_folds ^ expected)
        raise InputError(
            f"the design's folds do not hold exactly the {design.design} training patients of "
            f"this manifest (e.g. {', '.join(odd[:5])}); run the design stage on this manifest",
            file=Path(folder),
        )
    if design.folds != config.cv.outer_folds or design.seed != config.seed:
        log.warning(
            "the design has %d folds (seed %d); the model settings say %d (seed %d): the "
            "design's folds are used", design.folds, design.seed, config.cv.outer_folds,
            config.seed,
        )  # fmt: skip
    return design.design, folds


def resolved_yaml(config: ModelConfig) -> str:
    """The settings as the YAML saved beside the model (defaults filled in)."""
    import yaml

    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _sensitivity(units, data, config, final, out, key, external, results) -> pd.DataFrame:
    """Harmonisation sensitivity predictions: passthrough for unseen sites, and the pipeline
    refitted without ComBat on the same units (empty when ComBat is not used)."""
    if not sensitivity.wanted(config, data):
        return sensitivity.empty()
    log.info("harmonisation sensitivity: unseen sites passthrough, and a refit without ComBat")
    final_unit = next(u for u in units if u.is_final)
    passthrough = sensitivity.passthrough_predictions(final_unit, final, data)
    plain = sensitivity.without_combat(config)
    checkpoints = Checkpoints(out, f"{key}-nocombat")
    refit = _run_units(units, data, plain, checkpoints, external, config.cv.outer_folds)
    checkpoints.clear()
    none = pd.concat([r.predictions for r in refit], ignore_index=True)
    parts = [passthrough, none.assign(harmonisation=sensitivity.NONE)]
    return pd.concat([p for p in parts if not p.empty], ignore_index=True)


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
