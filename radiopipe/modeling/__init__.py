"""Leakage-safe radiomics modelling: one imblearn Pipeline, cross-validated as a whole.

    impute -> constant -> icc -> harmonise (ComBat) -> scale -> balance (SMOTE)
           -> ttest -> pearson -> lasso -> model (tuned SVM/RF/LightGBM/MLP + LR stack)

Every step is a scikit-learn estimator (settings in ``__init__``, learned state in ``*_``
attributes; ``clone``/``get_params``/``set_params`` work), built from the settings by
:mod:`~radiopipe.modeling.pipeline_factory`. The whole pipeline is fitted on a training fold and
applied to held-out patients, so no step ever sees a test patient while learning. The study we
follow applied SMOTE, ComBat and feature selection before splitting; here that cannot happen.

How per-patient information travels (:mod:`~radiopipe.modeling.columns`):

- ``X`` is a DataFrame indexed by ``patient_id``. The site and ComBat covariates ride along in
  ``meta__site`` / ``meta__<covariate>`` columns, so cross-validation splits them with their rows.
  Steps before harmonisation pass them through; :class:`~.harmonise.ComBatHarmoniser` (or
  :class:`~.harmonise.DropMeta` when harmonisation is off) consumes them. SMOTE and everything
  after it see features only, so SMOTE can never invent a site.
- SMOTE (:class:`~.resample.MarkedSMOTE`) runs only in ``fit`` and labels its rows
  ``synthetic::<i>``. Steps with their own inner CV (LASSO, tuning, stacking) validate on real
  patients only and oversample afresh inside each inner training fold.
- Unseen sites at predict time follow a documented rule (:mod:`~.harmonise`): the new site's
  location/scale are estimated from its own unlabelled patients (at least ``min_site_size``).

Outputs of ``radiopipe train`` (:mod:`~.training`): ``predictions.parquet``, ``folds.csv``,
``thresholds.json``, ``funnel.csv``, ``selected_features.csv``, ``selection_stability.csv``,
``tuning.parquet`` and the ``model/`` artefact (:mod:`~.persistence`, skops, allow-listed types).
"""
