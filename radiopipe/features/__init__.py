"""Radiomics extraction at cohort scale: pyradiomics tasks, cache, Dask executor, ICC robustness.

Submodules: ``naming`` (column names), ``params`` (parameter files), ``units`` (cache units),
``task`` (one extraction), ``cache``, ``executor`` (Dask), ``engine`` (plan/run/collect),
``assemble`` (tables), ``extract`` (cohort extraction), ``perturb`` (mask perturbations),
``icc`` (ICC(2,1)) and ``robustness`` (the ICC stage). Import them directly; this package
imports nothing heavy.
"""
