"""The methods paragraphs, written from the run's own resolved settings and data.

Every number and setting comes from the run folder (the cohort, the stages' resolved configs,
the feature table's metadata, the provenance records); a sentence whose inputs are absent is
left out rather than guessed.
"""

from __future__ import annotations

import json
from typing import Any

from radiopipe.contracts import TEST_SPLITS, EvaluateLayout, Split, StageName
from radiopipe.report.context import ReportContext
from radiopipe.report.figures import cohort_title

LEARNER_NAMES = {
    "svm": "support vector machine (RBF kernel, Platt-scaled)",
    "rf": "random forest",
    "lightgbm": "LightGBM",
    "mlp": "multilayer perceptron",
    "logreg": "penalised (L1 or L2) logistic regression",
}
LEAKAGE_CLAIM = "so no information from validation or test patients reached the model"
LEAKAGE_CLAIM_TRANSDUCTIVE = (
    "so no outcome of a validation or test patient reached the model (one exception, label-"
    "free, is stated below)"
)
LEAKAGE = (
    "Every data-dependent step ({steps}) was fitted on the training patients of each fold only "
    "and applied unchanged to the held-out patients, "
    + LEAKAGE_CLAIM
    + ". The original study (Wen et al.) applied SMOTE, ComBat "
    "harmonisation and feature selection to pooled data before splitting, which lets test "
    "patients shape the model and inflates its apparent performance; this design avoids that."
)


# Settings keys renamed since a run may have been written: new spelling -> the one it replaced.
EARLIER_KEYS = {"harmonise": "harmonize"}


def get(mapping: dict[str, Any] | None, path: str, default: Any = None) -> Any:
    """``mapping['a']['b']`` for path 'a.b', or ``default`` when any key is absent.

    A key missing under its current spelling is looked up under its earlier one
    (``harmonise`` / ``harmonize``), so runs written before a rename still read.
    """
    node: Any = mapping or {}
    for key in path.split("."):
        if isinstance(node, dict) and key not in node:
            key = EARLIER_KEYS.get(key, key)
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def methods(ctx: ReportContext) -> list[tuple[str, str]]:
    """(heading, paragraph) pairs in reading order; empty paragraphs are left out."""
    parts = [
        ("Study cohort", _cohort(ctx)),
        ("Image preprocessing and segmentation", _imaging(ctx)),
        ("Radiomic features", _features(ctx)),
        ("Model development", _modelling(ctx)),
        ("Clinical and combined models", _clinical(ctx)),
        ("Leakage-safe design", _leakage(ctx)),
        ("Deep-learning comparison", _deep(ctx)),
        ("Statistical analysis", _statistics(ctx)),
        ("Explanations", _explain(ctx)),
        ("Software and reproducibility", _software(ctx)),
    ]
    return [(heading, text) for heading, text in parts if text]


def _cohort(ctx: ReportContext) -> str:
    table = ctx.run.manifest
    if table is None:
        return ""
    labels = table["label"].astype(str).str.strip()
    events = int((labels == "1").sum())
    sites = table["site"].astype(str).value_counts().sort_index()
    text = (
        f"The run analysed {len(table)} patients from {len(sites)} site(s) "
        f"({_join([f'{s}: {n}' for s, n in sites.items()])}); outcome “{ctx.label_name(1)}” "
        f"(label 1): {events} patients, “{ctx.label_name(0)}” (label 0): "
        f"{int((labels == '0').sum())}."
    )
    splits = table["split"].astype(str)
    named = [s for s in (Split.TRAIN, *TEST_SPLITS) if (splits == s).any()]
    if named:
        described = []
        for split in named:
            part = table.loc[splits == split]
            site_list = _join(sorted(set(part["site"].astype(str))))
            described.append(
                f"{cohort_title(split).lower()} {len(part)} "
                f"({int((part['label'].astype(str) == '1').sum())} events; "
                f"site {site_list})"
            )
        text += f" Patients were assigned to fixed sets: {_join(described)}."
    if (splits == "").any():
        text += f" {int((splits == '').sum())} patients had no fixed split (cross-validation)."
    if ctx.run.covariates:
        from radiopipe.report.sections.cohort import variable_label

        names = [variable_label(c).lower() for c in ctx.run.covariates]
        text += f" Clinical covariates: {_join(names)}."
    return text


def _imaging(ctx: ReportContext) -> str:
    sentences = []
    if ctx.run.sequences:
        sentences.append(f"Sequences: {_join([ctx.sequence_label(s) for s in ctx.run.sequences])}.")
    pre = ctx.run.configs.get("preprocess")
    if pre:
        spacing = get(pre, "resample.spacing")
        steps = []
        if get(pre, "bias_correction.enabled"):
            steps.append("N4 bias-field correction")
        if spacing:
            steps.append(
                f"resampling to {' × '.join(f'{s:g}' for s in spacing)} mm "
                f"({get(pre, 'resample.interpolator', 'bspline')} interpolation for "
                "images, nearest neighbour for masks)"
            )
        if get(pre, "register"):
            steps.append("rigid registration of the sequences (mutual information)")
        method = get(pre, "normalise.method")
        if method and method != "none":
            steps.append(f"{method} intensity normalisation")
        if steps:
            sentences.append(f"Images were preprocessed by {_join(steps)}.")
    seg = ctx.run.segmentation.get("config")
    if ctx.run.segmentation:
        arch = get(seg, "network.architecture", "V-Net")
        deep = " with deep supervision" if get(seg, "network.deep_supervision") else ""
        text = (
            f"Lesions were segmented automatically on each sequence with a 3D "
            f"{str(arch).replace('_', ' ')}{deep}"
        )
        loss = get(seg, "loss")
        if loss:
            text += " trained with a Dice plus cross-entropy loss"
        sentences.append(
            text + "; its masks were compared with reference masks by Dice and "
            "95th-percentile Hausdorff distance."
        )
    elif ctx.run.manifest is not None:
        sentences.append("Lesion masks were provided with the cohort.")
    return " ".join(sentences)


def _features(ctx: ReportContext) -> str:
    meta = ctx.run.features_meta
    if not meta and ctx.run.features_path is None:
        return ""
    sentences = []
    params = json.loads(meta["pyradiomics_params"]) if meta.get("pyradiomics_params") else {}
    version = meta.get("pyradiomics_version")
    images = []
    for kind, spec in (params.get("imageType") or {}).items():
        sigma = (spec or {}).get("sigma")
        images.append(
            f"LoG (σ = {', '.join(f'{s:g}' for s in sigma)} mm)"
            if sigma
            else ("wavelet (all first-level sub-bands)" if kind == "Wavelet" else kind.lower())
        )
    from radiopipe.features import naming

    labels = naming.CLASS_LABELS
    classes = [labels.get(c, c) for c in (params.get("featureClass") or {})]
    setting = params.get("setting") or {}
    text = "Radiomic features were extracted with pyradiomics" + (f" {version}" if version else "")
    if images:
        text += f" from {_join(images)} images"
    if classes:
        text += f" ({_join(classes)} classes)"
    sentences.append(text + ".")
    details = []
    if "binWidth" in setting:
        details.append(f"fixed bin width {setting['binWidth']:g}")
    if setting.get("resampledPixelSpacing"):
        details.append(
            f"resampled to {' × '.join(f'{v:g}' for v in setting['resampledPixelSpacing'])} mm"
        )
    if setting.get("normalize"):
        details.append(f"z-score normalisation × {setting.get('normalizeScale', 1):g}")
    if details:
        sentences.append(f"Settings: {_join(details)}.")
    icc = ctx.run.icc
    threshold = get(ctx.run.configs.get(StageName.TRAIN), "icc.threshold", 0.8)
    if icc is not None:
        source = str(icc["source"].iloc[0]) if "source" in icc else ""
        sentences.append(
            f"Robustness to segmentation was measured by ICC(2,1) (two-way random effects, "
            f"absolute agreement, single rater) between {_icc_raters(ctx, source)} masks on "
            f"{_icc_sample(ctx)}; "
            f"{int((icc['icc'] >= threshold).sum())} of {len(icc)} features reached ICC ≥ "
            f"{threshold:g} (kept)."
        )
    return " ".join(sentences)


def _icc_raters(ctx: ReportContext, source: str) -> str:
    """Whose masks the ICC compares, from the robustness source and its perturbations."""
    if source == "second_mask":
        return "the first (mask_<seq>) and second (mask2_<seq>)"
    if source != "perturbation":
        return "two"
    cfg = ctx.run.configs.get(StageName.ROBUSTNESS) or {}
    repeats = int(get(cfg, "perturbation.contour_repeats", 1) or 0)
    radius = get(cfg, "perturbation.radius_mm", 1.0)
    kinds = f"eroded and dilated by {radius:g} mm"
    if repeats:
        kinds += f", {repeats} random contour shift{'s' if repeats > 1 else ''}"
    return f"the original and perturbed ({kinds})"


def _icc_sample(ctx: ReportContext) -> str:
    """Who the ICC was computed on: 'N training patients (a seeded random sample ...)'."""
    cfg = ctx.run.configs.get(StageName.ROBUSTNESS) or {}
    who = "patients of every split" if get(cfg, "include_test", False) else "training patients"
    n = ctx.run.icc_patients
    if n is None:
        return who
    cap = get(cfg, "max_patients", None)
    if cap is not None and n == int(cap):
        return f"{n} {who} (a random sample drawn with seed {get(cfg, 'sample_seed', 0)})"
    return f"{n} {who}"


def _modelling(ctx: ReportContext) -> str:
    cfg = ctx.run.configs.get(StageName.TRAIN)
    card = ctx.run.train.get("card", {})
    if not cfg and not card:
        return ""
    design = card.get("design") or get(cfg, "design", "")
    outer, repeats, inner = (
        get(cfg, "cv.outer_folds"),
        get(cfg, "cv.outer_repeats", 1),
        get(cfg, "cv.inner_folds"),
    )
    sentences = []
    if design == "fixed_split":
        sentences.append(
            f"The final model was trained on all training patients; their out-of-fold predictions "
            f"came from {repeats} × {outer}-fold stratified cross-validation of the whole pipeline."
        )
    elif design:
        sentences.append(
            f"Performance was estimated by {repeats} × {outer}-fold nested "
            "cross-validation of the whole pipeline."
        )
    steps, _ = _pipeline_steps(cfg, inner)
    if steps:
        sentences.append(f"The pipeline consisted of {_join(steps)}.")
    learners = get(cfg, "learners.names") or []
    if learners:
        trials = get(cfg, "learners.n_trials")
        sentences.append(
            f"Base learners ({_join([LEARNER_NAMES.get(n, n) for n in learners])}) were tuned by "
            f"Bayesian optimisation (Optuna TPE, {trials} trials each, AUC on {inner}-fold inner "
            f"cross-validation{_tuned_choices(cfg)}) and combined by {_meta_learner(cfg)} "
            f"fitted on {_meta_inputs(cfg, inner)}."
        )
    if get(cfg, "baseline.enabled"):
        sentences.append(
            "An L1-penalised logistic regression on the same preprocessing "
            f"({ctx.model_label('lasso_lr')}) served as a simple baseline."
        )
    if design == "nested_cv":
        sentences.append(
            "In each outer fold, each model's operating threshold was the maximum Youden index "
            "of the inner out-of-fold predictions of that fold's training patients, applied "
            "unchanged to its held-out patients."
        )
    else:
        sentences.append(
            "Each model's operating threshold was the maximum Youden index of its "
            "training out-of-fold predictions, frozen for the test sets."
        )
    if get(cfg, "seed") is not None:
        sentences.append(f"Random seed: {get(cfg, 'seed')}.")
    return " ".join(sentences)


def _clinical(ctx: ReportContext) -> str:
    cfg = ctx.run.configs.get(StageName.TRAIN)
    covariates = get(cfg, "clinical.covariates") or []
    if not covariates:
        return ""
    selection = get(cfg, "clinical.selection", "univariable")
    alpha = get(cfg, "clinical.alpha", 0.05)
    chosen = {
        "univariable": f"covariates with a univariable likelihood-ratio p < {alpha:g} (at least "
        "the strongest one) entered a multivariable logistic regression",
        "penalised": "covariates with a non-zero coefficient in an L1-penalised logistic "
        "regression (strength by inner cross-validated AUC) entered a multivariable logistic "
        "regression",
        "none": "all covariates entered a multivariable logistic regression",
    }[selection]
    categorical = get(cfg, "clinical.categorical") or []
    coding = (
        f" {_join(categorical)} {'was' if len(categorical) == 1 else 'were'} one-hot coded "
        "against a reference level."
        if categorical
        else ""
    )
    return (
        f"A clinical model was built from {_join(covariates)}: in each training fold, {chosen} "
        f"(statsmodels; odds ratios with Wald 95% CIs).{coding} The rad-score is the linear "
        f"predictor of {_radscore_lasso(cfg)} (intercept plus coefficients "
        "times the harmonised, standardised selected features); its formula, standardisation "
        "constants and per-site ComBat location and scale are exported so that it can be "
        "computed by hand, and the rad-score model's probability is its logistic transform. "
        "The combined model is a logistic regression on the rad-score and the selected "
        "covariates, fitted in the same folds on the training patients' inner out-of-fold "
        "rad-scores, and is shown as a nomogram. Clinical, rad-score, stacking and combined "
        "models were compared by paired DeLong tests (Holm per split), the category-free net "
        "reclassification improvement and the integrated discrimination improvement with "
        "stratified bootstrap CIs, calibration and decision curves."
    )


def _radscore_lasso(cfg: dict | None) -> str:
    """Where the rad-score's LASSO sits: in the radiomics pipeline or in a pipeline of its own."""
    if get(cfg, "lasso.enabled", False):
        return "the LASSO step of the radiomics pipeline"
    inner = get(cfg, "cv.inner_folds", 5)
    return (
        "a LASSO logistic model of its own (the radiomics pipeline selects features per "
        "learner and has no LASSO step), fitted in each training fold after the same "
        f"preprocessing and filters, its penalty chosen by {inner}-fold inner CV"
    )


def _leakage(ctx: ReportContext) -> str:
    cfg = ctx.run.configs.get(StageName.TRAIN)
    _, names = _pipeline_steps(cfg, "")
    if not names:
        return ""
    text = LEAKAGE.format(steps=_join(names))
    if get(cfg, "harmonise.method") == "combat":
        from radiopipe.report.disclosure import harmonisation_of, harmonisation_sentence

        found = harmonisation_of(
            ctx.run.train.get("card", {}), ctx.run.manifest,
            str(get(cfg, "harmonise.unseen_site", "estimate")),
        )  # fmt: skip
        if found.unseen and found.policy == "estimate":
            text = text.replace(LEAKAGE_CLAIM, LEAKAGE_CLAIM_TRANSDUCTIVE)
        text += " " + harmonisation_sentence(found)
    return text.strip()


def _pipeline_steps(cfg: dict | None, inner: object) -> tuple[list[str], list[str]]:
    """Descriptions of the enabled steps, and the short names used in the leakage sentence."""
    steps, names = [], []
    if get(cfg, "impute.enabled", False):
        steps.append("median imputation")
        names.append("imputation")
    if get(cfg, "icc.enabled", False):
        # the filter keeps ICC >= threshold (radiopipe.modeling.select.ICCFilter)
        steps.append(f"removal of features with ICC < {get(cfg, 'icc.threshold'):g}")
        names.append("the ICC filter")
    if get(cfg, "harmonise.method") == "combat":
        covs = get(cfg, "harmonise.covariates") or []
        kind = "parametric" if get(cfg, "harmonise.parametric", True) else "non-parametric"
        eb = " empirical-Bayes" if get(cfg, "harmonise.empirical_bayes", True) else ""
        steps.append(
            f"{kind}{eb} ComBat harmonisation across sites"
            + (f" preserving {_join(covs)}" if covs else "")
        )
        names.append("ComBat")
    scale = get(cfg, "scale.method")
    if scale and scale != "none":
        steps.append(f"{scale} scaling")
        names.append("scaling")
    balance = get(cfg, "balance.method")
    late = get(cfg, "balance.stage", "before_selection") == "before_learners"
    resampling: list[str] = []
    if balance == "smote":
        where = " of the selected features, just before the learners" if late else ""
        resampling.append(f"SMOTE oversampling{where} (k = {get(cfg, 'balance.k_neighbors', 5)})")
        names.append("SMOTE")
    elif balance == "class_weight":
        resampling.append("class weighting")
    elif balance == "tune":
        names.append("SMOTE")
    if not late:
        steps += resampling
    if get(cfg, "ttest.enabled", False):
        fdr = " with FDR control" if get(cfg, "ttest.fdr") else ""
        steps.append(f"a Welch t-test filter (α = {get(cfg, 'ttest.alpha'):g}{fdr})")
        names.append("the t-test")
    if get(cfg, "pearson.enabled", False):
        method = str(get(cfg, "pearson.method", "pearson")).capitalize()
        steps.append(
            f"a redundancy filter keeping one feature of each pair with "
            f"|{method} r| > {get(cfg, 'pearson.threshold'):g}"
        )
        names.append("the correlation filter")
    if get(cfg, "lasso.enabled", False):
        steps.append(
            f"LASSO selection (penalty by {inner}-fold inner CV, "
            f"{get(cfg, 'lasso.rule', 'best')} rule)"
        )
        names.append("LASSO")
    if late:
        steps += resampling
    if steps:
        names += ["hyperparameter tuning", "the meta-learner"]
    return steps, names


def _tuned_choices(cfg: dict) -> str:
    """What the inner CV chose besides the hyperparameters (auto preset), as a clause."""
    chosen = []
    if get(cfg, "learners.tune_features", False):
        most = get(cfg, "learners.max_features")
        bound = f" (at most {most})" if most else ""
        chosen.append(
            f"the number of features{bound}, ranked by |Welch t| within each training fold"
        )
    if get(cfg, "balance.method") == "tune":
        label = {"smote": "SMOTE", "class_weight": "class weights", "none": "none"}
        options = [label.get(str(c), str(c)) for c in get(cfg, "balance.choices", []) or []]
        chosen.append(f"the class balancing ({' or '.join(options)})")
    top = int(get(cfg, "learners.ensemble_top", 1) or 1)
    text = f", choosing also {_join(chosen)}" if chosen else ""
    return text + (f"; the best {top} trials of each were averaged" if top > 1 else "")


def _meta_learner(cfg: dict) -> str:
    method = get(cfg, "stack.method", "logistic")
    if method == "mean":
        return "averaging their probabilities"
    if method == "nonnegative":
        return "a weighted average with non-negative least-squares weights (summing to one)"
    if method == "select":
        return "choosing the single base learner with the best out-of-fold AUC"
    return f"a logistic-regression meta-learner (C = {get(cfg, 'stack.meta_C', 1.0):g})"


def _meta_inputs(cfg: dict, inner: object) -> str:
    if get(cfg, "stack.oof_split", "tuning") == "fresh":
        return (
            "the out-of-fold probabilities of the chosen configurations on a second, "
            f"differently seeded {inner}-fold inner split (not the folds their hyperparameters "
            "were chosen on)"
        )
    return "their out-of-fold probabilities"


def _deep(ctx: ReportContext) -> str:
    if not ctx.run.deep:
        return ""
    names = _join([ctx.model_label(m) for m in ctx.run.deep])
    return (
        f"End-to-end deep-learning classifiers ({names}) were trained on lesion-centred crops "
        "on the same splits and folds as the radiomics models, and explained by saliency maps."
    )


def _statistics(ctx: ReportContext) -> str:
    cfg = ctx.evaluate_config
    if not ctx.run.evaluate:
        return ""
    level = f"{100 * float(cfg.get('confidence', 0.95)):g}%"
    boot, seed = cfg.get("n_bootstrap", 2000), cfg.get("seed", 0)
    dca = cfg.get("decision_curve", {})
    reference = ctx.model_label(ctx.reference)
    text = (
        f"Discrimination was measured by the AUC with DeLong {level} confidence intervals and "
        f"stratified bootstrap intervals ({boot} resamples, seed {seed}); accuracy, sensitivity, "
        f"specificity, precision, NPV and F1 at the frozen thresholds have bootstrap intervals. "
        f"Each model was compared with the {reference.lower()} on the same patients by the "
        f"paired DeLong test, with Holm's correction over the declared family of each set "
        f"({reference}, pre-specified before any model was fitted, against every other model "
        "run); apparent (training-set) predictions were not tested"
    )
    pairs = cfg.get("unpaired") or []
    if pairs:
        text += "; a model's AUCs on " + _join(
            [f"{a.replace('_', ' ')} vs {b.replace('_', ' ')}" for a, b in pairs]
        )
        text += " were compared by the unpaired DeLong test"
    text += (
        f". Calibration was assessed by the Brier score, the calibration intercept and slope "
        f"(logistic recalibration) and reliability curves ({cfg.get('reliability_bins', 10)} "
        f"{cfg.get('reliability_strategy', 'quantile')} bins); clinical usefulness by "
        f"decision-curve analysis over threshold probabilities "
        f"{dca.get('start', 0.01):g}–{dca.get('stop', 0.99):g}."
    )
    if EvaluateLayout.FILES["cohort_table"] in ctx.run.evaluate:
        text += (
            " Patient characteristics were compared between outcome groups by Welch's t-test "
            "or the Mann–Whitney U test and by the χ² or Fisher's exact test."
        )
    return text + f" Two-sided p < {ctx.config.alpha:g} was considered significant."


def _explain(ctx: ReportContext) -> str:
    cfg = ctx.run.configs.get("explain")
    if ctx.run.explain_dir is None or not cfg:
        return ""
    return (
        f"SHAP values (Shapley additive explanations) were computed for "
        f"{_join([ctx.model_label(m).lower() for m in cfg.get('models', [])])} in the selected "
        "feature space against "
        f"{cfg.get('background_size')} training patients (seed {cfg.get('seed')}): the "
        f"ensemble by antithetic permutation sampling ({cfg.get('permutations')} ordering "
        f"pair(s) per background patient, {str(cfg.get('scale', '')).replace('_', '-')} scale), "
        "tree learners by interventional TreeSHAP; importance was also summed by sequence, "
        "image type and feature class."
    )


def _software(ctx: ReportContext) -> str:
    prov = ctx.run.provenance.get("run") or next(iter(ctx.run.provenance.values()), None)
    if not prov:
        return ""
    packages = prov.get("packages") or {}
    shown = _join(
        [
            f"{k} {v}"
            for k, v in packages.items()
            if v
            and k
            in (
                "scikit-learn",
                "pyradiomics-bhklab",
                "neuroHarmonize",
                "imbalanced-learn",
                "lightgbm",
                "optuna",
                "shap",
                "torch",
                "monai",
            )
        ]
    )
    commit = prov.get("git_commit") or "unknown"
    return (
        f"Analyses ran with radiopipe {prov.get('radiopipe')} (commit {commit}) on Python "
        f"{prov.get('python')}" + (f", with {shown}" if shown else "") + "."
    )
