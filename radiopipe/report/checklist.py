"""TRIPOD+AI (Collins et al., BMJ 2024), CLEAR (Kocak et al., Insights Imaging 2023) and
METRICS (Kocak et al., Insights Imaging 2024): every item of each checklist (the item lists are
data: ``radiopipe/report/checklists/*.yaml``), each judged from what the run folder holds.

Status: ``covered`` (the run produced the evidence, named in ``where``), ``partly`` (some of
it), ``missing`` (the run could have produced it but did not), ``authors`` (information no
pipeline can hold, e.g. ethics approval or recruitment dates: the authors must report it) and
``not applicable`` (the run's design does not involve the item). This is an automatic subset,
not a completed checklist: the authors complete the official ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from radiopipe.contracts import Split
from radiopipe.report.checklist_rules import (
    AUTHORS,
    COVERED,
    MISSING,
    NOT_APPLICABLE,
    PARTIAL,
    STATUSES,
    SYMBOLS,
    Judgement,
    _centres,
    _code,
    _comparison,
    _covariates,
    _data_sharing,
    _design,
    _eligibility,
    _explain,
    _external,
    _flow,
    _harmonisation,
    _has_eval,
    _heterogeneity,
    _imaging_protocol,
    _imbalance,
    _input_checks,
    _leakage,
    _measures,
    _missing_data,
    _model_available,
    _no_updating,
    _numbers,
    _outcome,
    _participants,
    _pipeline_flow,
    _predictors,
    _preprocessing,
    _robustness,
    _sample_size,
    _scaling,
    _segmentation,
    _segmentation_readers,
    _selection,
    _this_checklist,
    _threshold,
    _tuning,
)
from radiopipe.report.context import ReportContext
from radiopipe.report.methods import get

__all__ = [
    "AUTHORS",
    "COVERED",
    "GUIDELINES",
    "MISSING",
    "NOT_APPLICABLE",
    "PARTIAL",
    "STATUSES",
    "SYMBOLS",
    "Item",
    "Row",
    "checklist",
    "load_items",
]

GUIDELINES = ("tripod_ai", "clear", "metrics")  # files under radiopipe/report/checklists/


@dataclass(frozen=True)
class Item:
    """One checklist item and the name of the rule that judges it from the run."""

    guideline: str
    number: str
    section: str
    topic: str
    judge: str = "authors"


@dataclass(frozen=True)
class Row:
    """A judged item."""

    guideline: str
    number: str
    topic: str
    status: str
    where: str
    section: str = ""


def _setting(ctx: ReportContext) -> dict:
    import json

    params = ctx.run.features_meta.get("pyradiomics_params")
    return json.loads(params) if params else {}


def _resampling(ctx: ReportContext) -> Judgement:
    spacing = (_setting(ctx).get("setting") or {}).get("resampledPixelSpacing")
    if spacing or get(ctx.run.configs.get("preprocess"), "resample.spacing"):
        return COVERED, "voxel spacing and interpolators in the preprocess / extraction settings"
    return PARTIAL if _setting(ctx) else MISSING, "no resampling recorded"


def _discretisation(ctx: ReportContext) -> Judgement:
    setting = _setting(ctx).get("setting") or {}
    for key in ("binWidth", "binCount"):
        if key in setting:
            return COVERED, f"{key} {setting[key]:g} (pyradiomics parameters in the feature table)"
    if _setting(ctx):
        return PARTIAL, "pyradiomics default discretisation (binWidth 25)"
    return MISSING, "no extraction parameters"


def _image_types(ctx: ReportContext) -> Judgement:
    params = _setting(ctx)
    if params.get("imageType") or params.get("featureClass"):
        return COVERED, "image types and feature classes in the pyradiomics parameters"
    return MISSING, "no extraction parameters"


def _n_features(ctx: ReportContext) -> Judgement:
    if ctx.run.features_path is None:
        return MISSING, "no feature table"
    import pyarrow.parquet as pq

    n = len(pq.read_schema(ctx.run.features_path).names) - 1
    return COVERED, f"{n} features (extract/features.parquet) and the selection funnel"


def _reference_model(ctx: ReportContext) -> Judgement:
    if ctx.models:
        return COVERED, f"reference model {ctx.reference} set in the settings; all models reported"
    return MISSING, "no evaluated models"


def _non_radiomic(ctx: ReportContext) -> Judgement:
    if "clinical" in ctx.models:
        return COVERED, "clinical model evaluated alongside (performance tables)"
    return MISSING, "no clinical model in this run"


def _simple_baseline(ctx: ReportContext) -> Judgement:
    found = [m for m in ctx.models if m in ("lasso_lr", "clinical")]
    if found:
        return COVERED, f"{', '.join(found)} compared by DeLong (performance tables)"
    return MISSING, "no simple baseline model"


def _internal(ctx: ReportContext) -> Judgement:
    found = [s for s in (Split.INTERNAL_TEST, Split.CV, Split.TRAIN_OOF) if s in ctx.splits]
    if found:
        return COVERED, f"internal validation: {', '.join(s.replace('_', ' ') for s in found)}"
    return MISSING, "no internal validation"


def _redundancy(ctx: ReportContext) -> Judgement:
    if get(ctx.run.configs.get("train"), "pearson.enabled"):
        return COVERED, "correlation filter inside the training folds (train settings)"
    return MISSING if ctx.run.configs.get("train") else AUTHORS, "no redundancy filter recorded"


def _dimensionality(ctx: ReportContext) -> Judgement:
    selected, table = ctx.run.train.get("selected"), ctx.run.manifest
    if selected is None or table is None:
        return MISSING, "no selected-feature list"
    train = table.loc[table["split"].astype(str).isin(["train", ""])]
    labels = train["label"].astype(str)
    events = min(int((labels == "1").sum()), int((labels == "0").sum()))
    n = max(len(selected), 1)
    status = COVERED if events / n >= 10 else PARTIAL
    return (
        status,
        f"{len(selected)} final features, {events} minority-class events (EPV {events / n:.1f})",
    )


def _deep_robustness(ctx: ReportContext) -> Judgement:
    if not ctx.run.deep:
        return NOT_APPLICABLE, "no end-to-end deep-learning model"
    return PARTIAL, "deep models trained on the radiomics folds; perturbation tests: authors"


def _automatic_segmentation(ctx: ReportContext) -> Judgement:
    seg = ctx.run.segmentation
    if seg.get("metrics") is not None or seg.get("summary") is not None:
        return COVERED, "Dice/HD95 against reference masks (segment/evaluation/)"
    if seg:
        return MISSING, "automatic masks without evaluation"
    return NOT_APPLICABLE, "masks given with the cohort (no automatic segmentation)"


def _settings_saved(ctx: ReportContext) -> Judgement:
    if ctx.run.configs:
        return (
            COVERED,
            f"resolved settings of {len(ctx.run.configs)} stage(s) (config.resolved.yaml)",
        )
    return MISSING, "no resolved settings"


def _calibration(ctx: ReportContext) -> Judgement:
    return _has_eval("calibration.csv", "Brier, intercept, slope, reliability")(ctx)


RULES: dict[str, Callable[[ReportContext], Judgement]] = {
    "authors": lambda ctx: (AUTHORS, "not held by a run: report in the manuscript"),
    "automatic_segmentation": _automatic_segmentation,
    "calibration": _calibration,
    "centres": _centres,
    "code": _code,
    "cohort_table": _has_eval("cohort_table.csv", "characteristics by split and site with tests"),
    "comparison": _comparison,
    "covariates": _covariates,
    "data_sharing": _data_sharing,
    "deep_robustness": _deep_robustness,
    "design": _design,
    "dimensionality": _dimensionality,
    "discretisation": _discretisation,
    "discrimination": _has_eval("performance.csv", "AUC with DeLong and bootstrap CIs"),
    "eligibility": _eligibility,
    "explain": _explain,
    "external": _external,
    "flow": _flow,
    "harmonisation": _harmonisation,
    "heterogeneity": _heterogeneity,
    "image_types": _image_types,
    "imaging_protocol": _imaging_protocol,
    "imbalance": _imbalance,
    "input_checks": _input_checks,
    "internal": _internal,
    "leakage": _leakage,
    "measures": _measures,
    "missing_data": _missing_data,
    "model_available": _model_available,
    "n_features": _n_features,
    "no_updating": _no_updating,
    "non_radiomic": _non_radiomic,
    "numbers": _numbers,
    "outcome": _outcome,
    "participants": _participants,
    "pipeline_flow": _pipeline_flow,
    "predictors": _predictors,
    "preprocessing": _preprocessing,
    "redundancy": _redundancy,
    "reference_model": _reference_model,
    "resampling": _resampling,
    "robustness": _robustness,
    "sample_size": _sample_size,
    "scaling": _scaling,
    "segmentation": _segmentation,
    "segmentation_readers": _segmentation_readers,
    "selection": _selection,
    "settings_saved": _settings_saved,
    "simple_baseline": _simple_baseline,
    "this_checklist": _this_checklist,
    "threshold": _threshold,
    "tuning": _tuning,
}


@cache
def load_items(name: str) -> tuple[str, str, tuple[Item, ...]]:
    """(guideline title, reference key, items) of ``checklists/<name>.yaml``."""
    text = (
        resources.files("radiopipe.report")
        .joinpath("checklists", f"{name}.yaml")
        .read_text("utf-8")
    )
    data = yaml.safe_load(text)
    items = []
    for entry in data["items"]:
        judge = entry.get("judge", "authors")
        if judge not in RULES:
            raise KeyError(f"checklists/{name}.yaml item {entry['id']}: unknown judge {judge!r}")
        items.append(
            Item(
                data["guideline"], str(entry["id"]), entry.get("section", ""), entry["topic"], judge
            )
        )
    return data["guideline"], data["reference"], tuple(items)


def checklist(ctx: ReportContext) -> list[Row]:
    """Every item of every guideline, judged from the run."""
    rows = []
    for name in GUIDELINES:
        _, _, items = load_items(name)
        for item in items:
            status, where = RULES[item.judge](ctx)
            rows.append(Row(item.guideline, item.number, item.topic, status, where, item.section))
    return rows
