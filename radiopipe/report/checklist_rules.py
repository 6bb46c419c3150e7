"""The rules that judge checklist items from a run (part one: cohort, data, design, open
science); :mod:`radiopipe.report.checklist` holds the rest, the registry and the loader.

Each rule returns ``(status, evidence)``; the statuses are defined here.
"""

from __future__ import annotations

from collections.abc import Callable

from radiopipe.contracts import Split, StageName
from radiopipe.report.context import ReportContext
from radiopipe.report.methods import get

COVERED, PARTIAL, MISSING, AUTHORS, NOT_APPLICABLE = (
    "covered", "partly", "missing", "authors", "not applicable",
)  # fmt: skip
STATUSES = (COVERED, PARTIAL, MISSING, AUTHORS, NOT_APPLICABLE)
SYMBOLS = {COVERED: "✓", PARTIAL: "◐", MISSING: "✗", AUTHORS: "✎", NOT_APPLICABLE: "–"}
Judgement = tuple[str, str]


def _has_eval(name: str, what: str) -> Callable[[ReportContext], Judgement]:
    def rule(ctx: ReportContext) -> Judgement:
        if name in ctx.run.evaluate:
            return COVERED, f"{what} (evaluate/{name})"
        return MISSING, f"no evaluate/{name}"

    return rule


def _participants(ctx: ReportContext) -> Judgement:
    if ctx.run.manifest is None:
        return MISSING, "no cohort manifest"
    n = len(ctx.run.manifest)
    where = f"{n} patients, sites and splits (cohort/manifest.csv); eligibility: authors"
    return PARTIAL, where


def _outcome(ctx: ReportContext) -> Judgement:
    if ctx.run.manifest is None:
        return MISSING, "no cohort manifest"
    names = ctx.label_names
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
    if "delong.csv" in ctx.run.evaluate and baselines:
        return COVERED, f"DeLong + Holm against {', '.join(baselines)} and base learners"
    if "delong.csv" in ctx.run.evaluate:
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


def _design(ctx: ReportContext) -> Judgement:
    design = str(ctx.run.train.get("card", {}).get("design", "")).replace("_", " ")
    if design:
        return PARTIAL, f"development and validation, {design} design (train/model); aims: authors"
    return AUTHORS, "state the objectives in the manuscript"


def _centres(ctx: ReportContext) -> Judgement:
    if ctx.run.manifest is None:
        return MISSING, "no cohort manifest"
    sites = sorted(set(ctx.run.manifest["site"].astype(str)))
    if len(sites) > 1:
        return COVERED, f"{len(sites)} centres ({', '.join(sites)}) in cohort/manifest.csv"
    return PARTIAL, f"single centre ({sites[0]})"


def _eligibility(ctx: ReportContext) -> Judgement:
    if ctx.run.manifest is None:
        return AUTHORS, "report the eligibility criteria"
    return (
        PARTIAL,
        "exclusions by data checks in the patient-flow figure; clinical criteria: authors",
    )


def _segmentation_readers(ctx: ReportContext) -> Judgement:
    table = ctx.run.manifest
    if table is not None and any(c.startswith("mask2_") for c in table.columns):
        return PARTIAL, "second reader's masks (mask2_*) used for ICC; readers' expertise: authors"
    return AUTHORS, "who segmented (number, expertise, blinding): report in the manuscript"


def _scaling(ctx: ReportContext) -> Judgement:
    method = get(ctx.run.configs.get(StageName.TRAIN), "scale.method")
    if method:
        return COVERED, f"{method} scaling inside the training folds (train settings)"
    return MISSING, "no scaling setting recorded"


def _heterogeneity(ctx: ReportContext) -> Judgement:
    delong = ctx.run.evaluate.get("delong.csv")
    unpaired = delong is not None and (delong["comparison"] == "unpaired").any()
    if unpaired:
        return PARTIAL, "performance per cohort, internal vs external by unpaired DeLong"
    if len(ctx.splits) > 1:
        return PARTIAL, "performance per cohort; no per-site heterogeneity analysis"
    return MISSING, "a single evaluation set"


def _measures(ctx: ReportContext) -> Judgement:
    have = [n for n in ("performance.csv", "calibration.csv", "decision_curve.csv")
            if n in ctx.run.evaluate]  # fmt: skip
    if len(have) == 3:
        return COVERED, "discrimination, calibration and decision curves (evaluate/)"
    if have:
        return PARTIAL, f"only {', '.join(have)} (evaluate/)"
    return MISSING, "no evaluate/ tables"


def _no_updating(ctx: ReportContext) -> Judgement:
    return NOT_APPLICABLE, "no model updating: models are frozen before the test sets"


def _data_sharing(ctx: ReportContext) -> Judgement:
    if ctx.run.features_path is not None:
        return (
            PARTIAL,
            "feature table (extract/; radiopipe export-tables: CSV/XLSX); sharing: authors",
        )
    return AUTHORS, "state where the data can be obtained"


def _flow(ctx: ReportContext) -> Judgement:
    if ctx.run.manifest is None:
        return MISSING, "no cohort manifest"
    return COVERED, "patient-flow figure: checks, failures, QC flags, events per set (Cohort)"


def _numbers(ctx: ReportContext) -> Judgement:
    if ctx.performance is not None and "n_cases" in ctx.performance:
        return COVERED, "patients and events per set and model (performance tables)"
    return MISSING, "no performance table"


def _input_checks(ctx: ReportContext) -> Judgement:
    if ctx.run.problems is not None or "validate" in ctx.run.provenance:
        return PARTIAL, "radiopipe validate lists unusable inputs per patient; guidance: authors"
    return AUTHORS, "describe how to handle poor-quality inputs"


def _this_checklist(ctx: ReportContext) -> Judgement:
    return PARTIAL, "this automatic subset; complete the official checklists for submission"


def _pipeline_flow(ctx: ReportContext) -> Judgement:
    if ctx.run.provenance:
        return PARTIAL, "stage order in the methods and provenance; no drawn pipeline flowchart"
    return AUTHORS, "draw the technical pipeline"


def _imaging_protocol(ctx: ReportContext) -> Judgement:
    from radiopipe.report.sections.protocol import protocol_frame

    frame = protocol_frame(ctx.run.manifest)
    if frame is not None:
        return COVERED, (
            f"scanner and acquisition parameters of {frame['sequence'].nunique()} sequence(s) at "
            f"{frame['site'].nunique()} site(s) (Cohort section, from the DICOM headers)"
        )
    if ctx.run.sequences:
        names = ", ".join(ctx.sequence_label(s) for s in ctx.run.sequences)
        return PARTIAL, f"sequences {names}; scanners and acquisition parameters: authors"
    return AUTHORS, "scanner models and acquisition parameters: report in the manuscript"


def _covariates(ctx: ReportContext) -> Judgement:
    if ctx.run.covariates:
        return PARTIAL, f"{len(ctx.run.covariates)} clinical variables named; definitions: authors"
    return NOT_APPLICABLE, "no non-radiomic predictors in the manifest"
