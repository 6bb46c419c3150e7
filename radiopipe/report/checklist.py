"""TRIPOD+AI (Collins et al., BMJ 2024) and CLEAR (Kocak et al., Insights Imaging 2023) items
this run covers, each judged from what the run folder actually holds.

Status: ``covered`` (the run produced the evidence, named in ``where``), ``partial`` (some of
it), ``missing`` (the run could have produced it but did not) and ``authors`` (information no
pipeline can hold, e.g. ethics approval or recruitment dates: the authors must report it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from radiopipe.contracts import EvaluateLayout, Split, StageName
from radiopipe.report.context import ReportContext
from radiopipe.report.methods import get

COVERED, PARTIAL, MISSING, AUTHORS = "covered", "partial", "missing", "authors"
SYMBOLS = {COVERED: "✓", PARTIAL: "◐", MISSING: "✗", AUTHORS: "✎"}
Judgement = tuple[str, str]


@dataclass(frozen=True)
class Item:
    """One checklist item and the rule that judges it from the run."""

    guideline: str
    number: str  # TRIPOD+AI item number, or the CLEAR section
    topic: str
    rule: Callable[[ReportContext], Judgement]


@dataclass(frozen=True)
class Row:
    """A judged item."""

    guideline: str
    number: str
    topic: str
    status: str
    where: str


def _has_eval(name: str, what: str) -> Callable[[ReportContext], Judgement]:
    def rule(ctx: ReportContext) -> Judgement:
        if name in ctx.run.evaluate:
            return COVERED, f"{what} (evaluate/{name})"
        return MISSING, f"no evaluate/{name}"

    return rule


def _authors(text: str) -> Callable[[ReportContext], Judgement]:
    return lambda ctx: (AUTHORS, text)


def _participants(ctx: ReportContext) -> Judgement:
    if ctx.run.manifest is None:
        return MISSING, "no cohort manifest"
    n = len(ctx.run.manifest)
    where = f"{n} patients, sites and splits (cohort/manifest.csv); eligibility: authors"
    return PARTIAL, where


def _outcome(ctx: ReportContext) -> Judgement:
    if ctx.run.manifest is None:
        return MISSING, "no cohort manifest"
    names = ctx.config.label_names
    return PARTIAL, f"binary outcome ({names[1]} = 1, {names[0]} = 0); definition: authors"


def _predictors(ctx: ReportContext) -> Judgement:
    if ctx.run.features_path is None:
        return MISSING, "no feature table"
    if ctx.run.features_meta.get("pyradiomics_params"):
        return COVERED, "feature table with pyradiomics version and parameters (extract/)"
    return PARTIAL, "feature table without extraction parameters"


def _preprocessing(ctx: ReportContext) -> Judgement:
    params = ctx.run.features_meta.get("pyradiomics_params")
    if "preprocess" in ctx.run.configs and params:
        return COVERED, "preprocess/ settings and pyradiomics resampling/normalisation/binning"
    if params:
        return PARTIAL, "pyradiomics resampling, normalisation and bin width only"
    return MISSING, "no preprocessing or extraction settings"


def _segmentation(ctx: ReportContext) -> Judgement:
    seg = ctx.run.segmentation
    if seg.get("metrics") is not None:
        return COVERED, "automatic segmentation with Dice/HD95 against reference (segment/)"
    if seg:
        return PARTIAL, "automatic segmentation without a quality evaluation"
    return PARTIAL, "masks given with the cohort; segmentation method: authors"


def _robustness(ctx: ReportContext) -> Judgement:
    if ctx.run.icc is not None:
        return COVERED, f"ICC(2,1) of {len(ctx.run.icc)} features (robustness/icc.parquet)"
    return MISSING, "no robustness/icc.parquet"


def _harmonisation(ctx: ReportContext) -> Judgement:
    method = get(ctx.run.configs.get(StageName.TRAIN), "harmonise.method")
    if method == "combat":
        return COVERED, "ComBat fitted inside training folds (train settings)"
    if method == "none":
        return PARTIAL, "harmonisation switched off; site effects shown in the report"
    return MISSING, "no modelling settings"


def _missing_data(ctx: ReportContext) -> Judgement:
    if get(ctx.run.configs.get(StageName.TRAIN), "impute.enabled"):
        return COVERED, "median imputation inside training folds (train settings)"
    return MISSING, "no imputation setting recorded"


def _leakage(ctx: ReportContext) -> Judgement:
    funnel = ctx.run.train.get("funnel")
    if funnel is not None and (funnel["fold"] >= 0).any():
        return (
            COVERED,
            f"selection refitted in {int((funnel['fold'] >= 0).sum())} folds (train/funnel.csv)",
        )
    if ctx.run.train:
        return PARTIAL, "modelling outputs without per-fold selection records"
    return MISSING, "no train/ outputs"


def _selection(ctx: ReportContext) -> Judgement:
    train = ctx.run.train
    if "funnel" in train and ("stability" in train or "selected" in train):
        return COVERED, "funnel counts and per-fold stability (train/)"
    if "funnel" in train or "selected" in train:
        return PARTIAL, "selection results without stability across folds"
    return MISSING, "no feature-selection records"


def _imbalance(ctx: ReportContext) -> Judgement:
    method = get(ctx.run.configs.get(StageName.TRAIN), "balance.method")
    if method:
        return COVERED, f"class balance: {method} (inside training folds)"
    return MISSING, "no balancing setting recorded"


def _tuning(ctx: ReportContext) -> Judgement:
    if "tuning" in ctx.run.train:
        return COVERED, f"{len(ctx.run.train['tuning'])} tuning trials (train/tuning.parquet)"
    if ctx.run.configs.get(StageName.TRAIN):
        return PARTIAL, "tuning settings without the trial history"
    return MISSING, "no tuning records"


def _threshold(ctx: ReportContext) -> Judgement:
    if "thresholds" in ctx.run.train:
        return COVERED, "Youden thresholds frozen from training OOF (train/thresholds.json)"
    perf = ctx.performance
    if perf is not None and "threshold_source" in perf:
        return PARTIAL, "thresholds chosen by the evaluate stage"
    return MISSING, "no operating thresholds"


def _external(ctx: ReportContext) -> Judgement:
    if Split.EXTERNAL_TEST in ctx.splits:
        return COVERED, "external test set from another site (performance tables)"
    if Split.INTERNAL_TEST in ctx.splits:
        return PARTIAL, "internal test set only"
    if ctx.splits:
        return PARTIAL, "cross-validation only"
    return MISSING, "no evaluation"


def _comparison(ctx: ReportContext) -> Judgement:
    baselines = [m for m in ctx.models if m in ("lasso_lr", "clinical")]
    if EvaluateLayout.FILES["delong"] in ctx.run.evaluate and baselines:
        return COVERED, f"DeLong + Holm against {', '.join(baselines)} and base learners"
    if EvaluateLayout.FILES["delong"] in ctx.run.evaluate:
        return PARTIAL, "DeLong + Holm between models; no clinical or simple baseline"
    return MISSING, "no model comparisons"


def _explain(ctx: ReportContext) -> Judgement:
    if ctx.run.explain_dir is not None:
        return COVERED, "SHAP values, grouped importance, individual explanations (explain/)"
    return MISSING, "no explain/ outputs"


def _model_available(ctx: ReportContext) -> Judgement:
    if "card" in ctx.run.train:
        return COVERED, "model artefact with card and safe (skops) files (train/model/)"
    return MISSING, "no saved model"


def _code(ctx: ReportContext) -> Judgement:
    commits = [p.get("git_commit") for p in ctx.run.provenance.values() if p.get("git_commit")]
    if commits:
        return COVERED, f"radiopipe commit {commits[0]}, package versions, seeds (provenance.json)"
    if ctx.run.provenance:
        return PARTIAL, "package versions and seeds without a code commit"
    return MISSING, "no provenance records"


def _sample_size(ctx: ReportContext) -> Judgement:
    perf = ctx.performance
    if perf is None:
        return MISSING, "no performance table"
    return PARTIAL, "patients and events per set reported; a priori sample size: authors"


def _protocol(ctx: ReportContext) -> Judgement:
    from radiopipe.report.sections.protocol import protocol_frame

    frame = protocol_frame(ctx.run.manifest)
    if frame is None:
        return AUTHORS, "scanner models and acquisition parameters: report in the manuscript"
    return COVERED, (
        f"scanner and acquisition parameters of {frame['sequence'].nunique()} sequence(s) at "
        f"{frame['site'].nunique()} site(s) (Cohort section, from the DICOM headers)"
    )


ITEMS = (
    Item("TRIPOD+AI", "5–6", "Data sources and participants", _participants),
    Item("TRIPOD+AI", "7", "Data preparation", _preprocessing),
    Item("TRIPOD+AI", "8", "Outcome", _outcome),
    Item("TRIPOD+AI", "9", "Predictors", _predictors),
    Item("TRIPOD+AI", "10", "Sample size", _sample_size),
    Item("TRIPOD+AI", "11", "Missing data", _missing_data),
    Item("TRIPOD+AI", "12a", "Data splitting without leakage", _leakage),
    Item("TRIPOD+AI", "12c", "Model building and tuning", _tuning),
    Item(
        "TRIPOD+AI",
        "12e, 23a",
        "Discrimination with CIs",
        _has_eval(EvaluateLayout.FILES["performance"], "AUC with DeLong and bootstrap CIs"),
    ),
    Item(
        "TRIPOD+AI",
        "12e",
        "Calibration",
        _has_eval(EvaluateLayout.FILES["calibration"], "Brier, intercept, slope, reliability"),
    ),
    Item(
        "TRIPOD+AI",
        "12e",
        "Clinical utility",
        _has_eval(EvaluateLayout.FILES["decision_curve"], "decision curves"),
    ),
    Item("TRIPOD+AI", "13", "Class imbalance", _imbalance),
    Item("TRIPOD+AI", "15", "Model output and threshold", _threshold),
    Item(
        "TRIPOD+AI",
        "16",
        "Differences between development and evaluation data",
        _has_eval(
            EvaluateLayout.FILES["cohort_table"], "characteristics by split and site with tests"
        ),
    ),
    Item("TRIPOD+AI", "22", "Model specification and availability", _model_available),
    Item("TRIPOD+AI", "18f", "Code availability and provenance", _code),
    Item(
        "TRIPOD+AI",
        "17, 18a–d",
        "Ethics, funding, conflicts, registration",
        _authors("not held by a run: report in the manuscript"),
    ),
    Item("CLEAR", "Segmentation", "Segmentation method and quality", _segmentation),
    Item("CLEAR", "Feature extraction", "Feature robustness", _robustness),
    Item("CLEAR", "Pre-processing", "Harmonisation", _harmonisation),
    Item("CLEAR", "Data preparation", "Feature selection and stability", _selection),
    Item("CLEAR", "Evaluation", "Independent external testing", _external),
    Item("CLEAR", "Evaluation", "Comparison with baseline models", _comparison),
    Item("CLEAR", "Evaluation", "Explainability", _explain),
    Item(
        "CLEAR",
        "Data",
        "Imaging protocol (scanners, sequences)",
        _protocol,
    ),
)


def checklist(ctx: ReportContext) -> list[Row]:
    """Every item judged from the run."""
    rows = []
    for item in ITEMS:
        status, where = item.rule(ctx)
        rows.append(Row(item.guideline, item.number, item.topic, status, where))
    return rows
