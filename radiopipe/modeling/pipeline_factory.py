"""Build the radiomics pipeline and the LASSO baseline from the settings: one imblearn Pipeline.

impute -> constant -> icc -> harmonise -> scale -> ttest -> pearson -> lasso -> balance -> model

(``balance.stage: before_selection`` moves SMOTE before the t-test, the published order.)

The whole pipeline is fitted on a training fold and applied to the held-out patients, so every
data-dependent step (medians, ICC selection, ComBat, scaling, SMOTE, filters, LASSO, tuning,
stacking) sees training data only. A switched-off step is ``"passthrough"``.
"""

from __future__ import annotations

from imblearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler

from radiopipe.config.model import ModelConfig
from radiopipe.modeling.clean import ConstantFilter, MedianImputer
from radiopipe.modeling.harmonise import ComBatHarmoniser, DropMeta
from radiopipe.modeling.lasso import LassoLogisticClassifier, LassoSelector
from radiopipe.modeling.resample import MarkedSMOTE
from radiopipe.modeling.select import ICCFilter, PearsonFilter, TTestFilter
from radiopipe.modeling.stacking import StackingEnsemble
from radiopipe.modeling.tuning import TunedClassifier

STEPS = (
    "impute",
    "constant",
    "icc",
    "harmonise",
    "scale",
    "ttest",
    "pearson",
    "lasso",
    "balance",
    "model",
)
PASS = "passthrough"


def front_steps(config: ModelConfig, has_sites: bool) -> list[tuple[str, object]]:
    """The steps shared by every model: imputation up to standardisation."""
    icc = config.icc
    harm = config.harmonise
    if harm.method == "combat" and has_sites:
        harmonise: object = ComBatHarmoniser(
            covariates=tuple(harm.covariates),
            parametric=harm.parametric,
            empirical_bayes=harm.empirical_bayes,
            mean_only=harm.mean_only,
            reference_site=harm.reference_site,
            unseen_site=harm.unseen_site,
            min_site_size=harm.min_site_size,
        )
    else:
        harmonise = DropMeta()
    scaler = {"standard": StandardScaler, "robust": RobustScaler}.get(config.scale.method)
    return [
        ("impute", MedianImputer() if config.impute.enabled else PASS),
        (
            "constant",
            ConstantFilter(config.constant.threshold) if config.constant.enabled else PASS,
        ),
        (
            "icc",
            ICCFilter(
                str(icc.table) if icc.table else None, threshold=icc.threshold, missing=icc.missing
            )
            if icc.enabled
            else PASS,
        ),
        ("harmonise", harmonise),
        ("scale", scaler().set_output(transform="pandas") if scaler else PASS),
    ]


def sampler_for(config: ModelConfig, seed: int) -> MarkedSMOTE | None:
    """The pipeline's SMOTE step when balancing by SMOTE, else None (``tune``: the learners
    oversample inside their own inner folds when a trial picks SMOTE)."""
    if config.balance.method != "smote":
        return None
    return _smote(config, seed)


def _smote(config: ModelConfig, seed: int) -> MarkedSMOTE:
    return MarkedSMOTE(k_neighbors=config.balance.k_neighbors, random_state=seed)


def build_pipeline(
    config: ModelConfig, seed: int, has_sites: bool, fusion: dict[str, float] | None = None
) -> Pipeline:
    """The full radiomics pipeline ending in the stacking ensemble."""
    sampler = sampler_for(config, seed)
    tuned = config.balance.method == "tune"  # each learner chooses; the filters use weights
    weight = "balanced" if config.balance.method == "class_weight" or tuned else None
    lasso = config.lasso
    learners = [
        (
            name,
            TunedClassifier(
                learner=name,
                search_space=config.search_space(name),
                n_trials=config.learners.n_trials,
                timeout=config.learners.timeout_s,
                inner_folds=config.cv.inner_folds,
                sampler=_smote(config, seed) if tuned else sampler,
                class_weight=None if name == "mlp" else weight,
                random_state=seed,
                tune_features=config.learners.tune_features,
                max_features=config.learners.max_features,
                balance_choices=tuple(config.balance.choices) if tuned else None,
                ensemble_top=config.learners.ensemble_top,
                oof_split=config.stack.oof_split,
            ),
        )
        for name in config.learners.names
    ]
    early = config.balance.stage == "before_selection"
    # Before the learners, the filters and LASSO see real patients only: no SMOTE inside
    # LASSO's inner CV either (class weights, which invent no patient, are kept).
    balance = ("balance", sampler if sampler is not None else PASS)
    selection = [
        (
            "ttest",
            TTestFilter(
                alpha=config.ttest.alpha,
                fdr=config.ttest.fdr,
                equal_var=config.ttest.equal_var,
                min_features=config.ttest.min_features,
            )
            if config.ttest.enabled
            else PASS,
        ),
        (
            "pearson",
            PearsonFilter(config.pearson.threshold, config.pearson.method)
            if config.pearson.enabled
            else PASS,
        ),
        (
            "lasso",
            LassoSelector(
                n_strengths=lasso.n_strengths,
                inner_folds=config.cv.inner_folds,
                rule=lasso.rule,
                min_features=lasso.min_features,
                max_features=lasso.max_features,
                sampler=sampler if early else None,
                class_weight=weight,
                random_state=seed,
            )
            if lasso.enabled
            else PASS,
        ),
    ]
    stack = StackingEnsemble(
        learners, meta_C=config.stack.meta_C, fusion=fusion, method=config.stack.method
    )
    model = ("model", stack)
    tail = [balance, *selection, model] if early else [*selection, balance, model]
    return Pipeline(front_steps(config, has_sites) + tail)


def build_baseline(config: ModelConfig, seed: int, has_sites: bool) -> Pipeline:
    """The ``lasso_lr`` baseline: the same preprocessing, then a plain L1 logistic regression."""
    model = LassoLogisticClassifier(
        n_strengths=config.lasso.n_strengths,
        inner_folds=config.cv.inner_folds,
        rule=config.lasso.rule,
        random_state=seed,
    )
    return Pipeline([*front_steps(config, has_sites), ("model", model)])


def front_of(pipeline: Pipeline) -> Pipeline | None:
    """The fitted steps before the final estimator, samplers left out (None if there are none).

    Samplers (SMOTE) act in ``fit`` only; leaving them out gives the transform that maps
    patients to what the final estimator sees, whatever the position of the sampler.
    """
    steps = [(n, s) for n, s in pipeline.steps[:-1] if not hasattr(s, "fit_resample")]
    return Pipeline(steps) if steps else None
