"""Read a feature table (ours, or radMLBench's) and the manifest into the modelling frame.

Accepted feature tables:

- our Parquet (``patient_id`` then float columns ``<seq>__<feature>``), with a manifest that
  gives ``site``, ``split``, ``label`` and covariates;
- a radMLBench-style table (gzip CSV or Parquet: ``ID``, ``Target``, features), without a
  manifest: no sites (ComBat is skipped) and no splits (nested CV).

The frame ``X`` is indexed by ``patient_id`` and carries ``meta__site`` and
``meta__<covariate>`` next to the features (see :mod:`radiopipe.modeling.columns`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.errors import ConfigError, InputError
from radiopipe.modeling.columns import META_PREFIX, SITE_COLUMN, covariate_column

log = logging.getLogger(__name__)

ID_COLUMNS = ("patient_id", "ID")
LABEL_COLUMNS = ("label", "Target")


@dataclass
class ModelData:
    """Features plus meta columns, outcome and split per patient."""

    X: pd.DataFrame
    labels: pd.Series  # nullable Int64
    splits: pd.Series  # str, '' when not given
    features: list[str]
    covariates: list[str]
    has_sites: bool
    clinical: pd.DataFrame | None = None  # raw clinical.covariates per patient (when set)

    @property
    def sites(self) -> pd.Series | None:
        """Site per patient (None without a manifest)."""
        return self.X[SITE_COLUMN] if self.has_sites else None


def read_features(path: str | Path) -> tuple[pd.DataFrame, pd.Series | None]:
    """Feature table indexed by patient (float columns) and its label column, if it has one."""
    path = Path(path)
    if not path.is_file():
        raise InputError("feature table does not exist", file=path)
    try:
        if path.name.endswith(".parquet"):
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, low_memory=False)
    except Exception as err:
        raise InputError(f"not a readable feature table ({err})", file=path) from None
    id_column = next((c for c in ID_COLUMNS if c in table.columns), None)
    if id_column is None:
        raise InputError(
            "feature table needs a 'patient_id' (or radMLBench 'ID') column", file=path
        )
    ids = table[id_column].astype(str).str.strip()
    if (ids == "").any() or table[id_column].isna().any():
        raise InputError("feature table has rows without a patient ID", file=path)
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        raise InputError(f"patient(s) listed twice: {', '.join(duplicated[:10])}", file=path)
    label_column = next((c for c in LABEL_COLUMNS if c in table.columns), None)
    labels = None
    if label_column is not None:
        labels = pd.Series(table[label_column].to_numpy(), index=ids, name="label")
    features = table.drop(columns=[c for c in (id_column, label_column) if c])
    features.index = pd.Index(ids, name="patient_id")
    reserved = [c for c in features.columns if str(c).startswith(META_PREFIX)]
    if reserved:
        raise InputError(
            f"column names starting with {META_PREFIX!r} are reserved: {reserved[:5]}", file=path
        )
    return _numeric(features, path), labels


def _numeric(features: pd.DataFrame, path: Path) -> pd.DataFrame:
    """All columns as float64; a column holding text is an error naming a patient and value."""
    converted = features.apply(pd.to_numeric, errors="coerce").astype(np.float64)
    bad = converted.isna() & features.notna()
    if bad.to_numpy().any():
        column = bad.columns[bad.any()][0]
        patient = bad.index[bad[column]][0]
        raise InputError(
            f"feature {column!r} is not numeric (value {features.at[patient, column]!r}); "
            "diagnostics belong in their own table",
            patient=str(patient),
            file=path,
        )
    if converted.shape[1] == 0:
        raise InputError("feature table has no feature columns", file=path)
    return converted


def load_model_data(
    features_path: str | Path,
    manifest_path: str | Path | None = None,
    covariates: list[str] | tuple[str, ...] = (),
    require_labels: bool = True,
    batch: str = "site",
) -> ModelData:
    """Features joined with the manifest (when given) into one modelling frame.

    ``batch`` names what ComBat harmonises across (the ``meta__site`` column): ``site``,
    ``scanner`` or a manifest column.
    """
    features, table_labels = read_features(features_path)
    names = list(features.columns)
    if manifest_path is None:
        if covariates:
            raise ConfigError(f"covariates {list(covariates)} need a manifest (--manifest)")
        labels = _as_labels(table_labels, features.index, features_path, require_labels)
        splits = pd.Series("", index=features.index, dtype=object)
        return ModelData(features, labels, splits, names, [], has_sites=False)
    from radiopipe.cohort.manifest import read_manifest

    cohort = read_manifest(manifest_path)
    manifest = cohort.table.set_index("patient_id")
    missing = [p for p in manifest.index if p not in features.index]
    if missing:
        raise InputError(
            f"{len(missing)} manifest patient(s) have no features: {', '.join(missing[:10])} "
            "(fix the extraction or remove them from the manifest)",
            file=features_path,
        )
    extra = features.index.difference(manifest.index)
    if len(extra):
        log.warning(
            "%d patient(s) in the feature table are not in the manifest; ignored", len(extra)
        )
    unknown = [c for c in covariates if c not in cohort.covariates]
    if unknown:
        raise ConfigError(
            f"covariate(s) {unknown} are not manifest columns; available: {cohort.covariates}"
        )
    X = features.loc[manifest.index].copy()
    batches = batch_values(manifest, batch, manifest_path)
    X[SITE_COLUMN] = batches
    blank = manifest.index[batches.str.strip() == ""]
    if len(blank):
        raise InputError(
            f"no {batch} (ComBat batch) for patient(s) {', '.join(blank[:10])}",
            file=manifest_path,
        )
    for name in covariates:
        X[covariate_column(name)] = manifest[name].replace("", np.nan)
    labels = _as_labels(manifest["label"], manifest.index, manifest_path, require_labels)
    splits = manifest["split"].astype(str)
    return ModelData(X, labels, splits, names, list(covariates), has_sites=True)


def _as_labels(
    values: pd.Series | None, index: pd.Index, source: str | Path, required: bool
) -> pd.Series:
    """Labels as nullable integers 0/1; missing ones are an error when ``required``."""
    if values is None:
        if required:
            raise InputError(
                "no outcome: the feature table has no label/Target column; pass --manifest",
                file=source,
            )
        return pd.Series(pd.NA, index=index, dtype="Int64", name="label")
    text = values.astype(str).str.strip().replace({"nan": "", "<NA>": "", "None": ""})
    bad = text[~text.isin(["0", "1", "0.0", "1.0", ""])]
    if len(bad):
        raise InputError(
            f"labels must be 0 or 1; patient(s) {', '.join(map(str, bad.index[:10]))} have "
            f"{', '.join(map(repr, bad.to_numpy()[:10]))}",
            file=source,
        )
    labels = pd.Series(pd.NA, index=index, dtype="Int64", name="label")
    known = text != ""
    labels[known] = text[known].astype(float).astype(int).to_numpy()
    if required and (~known).any():
        raise InputError(
            f"no label for patient(s) {', '.join(map(str, index[~known][:10]))}", file=source
        )
    return labels


SCANNER_FIELDS = ("manufacturer", "model", "field_strength_t")


def batch_values(manifest: pd.DataFrame, batch: str, source: object = None) -> pd.Series:
    """Each patient's ComBat batch: site, scanner (first sequence's metadata) or a column."""
    if batch == "scanner":
        columns = [c for c in manifest.columns if c.endswith("__" + SCANNER_FIELDS[0])]
        if not columns:
            raise ConfigError(
                f"harmonise.batch: scanner needs acquisition metadata columns "
                f"(<seq>__manufacturer, __model, __field_strength_t, written by "
                f"`radiopipe import dicom`); {source} has none"
            )
        seq = columns[0].split("__")[0]
        parts = [
            manifest.get(f"{seq}__{f}", pd.Series("", index=manifest.index)) for f in SCANNER_FIELDS
        ]
        joined = parts[0].astype(str)
        for part in parts[1:]:
            joined = joined + " | " + part.astype(str)
        return joined.where(parts[0].astype(str).str.strip() != "", "")
    if batch not in manifest.columns:
        raise ConfigError(
            f"harmonise.batch: {batch!r} is neither site, scanner nor a column of {source} "
            f"(columns: {', '.join(map(str, manifest.columns[:30]))})"
        )
    return manifest[batch].astype(str).replace("nan", "")
