"""``radiopipe export-tables``: the run's tables as CSV and XLSX, same numbers as the run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from radiopipe.report import export

pytestmark = pytest.mark.xdist_group("report_run")


def test_export_tables_writes_csv_and_xlsx_with_the_runs_numbers(cli, run_without) -> None:
    run = run_without("segment", "deep", "explain")
    out = run / "tables"
    result = cli("export-tables", "--run", run, "--format", "csv,xlsx", "--out", out)
    assert result.exit_code == 0, result.output
    for name in ("features", "predictions", "performance", "variables"):
        assert (out / f"{name}.csv").is_file(), name
    sheets = pd.read_excel(out / "tables.xlsx", sheet_name=None)
    assert set(sheets) == {"features", "predictions", "performance", "variables"}

    features = pd.read_csv(
        out / "features.csv", dtype={"patient_id": str}, float_precision="round_trip"
    )
    source = pd.read_parquet(run / "extract" / "features.parquet").set_index("patient_id")
    manifest = pd.read_csv(run / "cohort" / "manifest.csv", dtype={"patient_id": str})
    assert list(features["patient_id"]) == list(manifest["patient_id"])
    assert list(features.columns[:5]) == ["patient_id", "site", "split", "label", "outcome"]
    assert set(features["outcome"]) == {"negative", "positive"}
    values = features.set_index("patient_id")[source.columns]
    np.testing.assert_array_equal(values.loc[source.index], source)  # full precision
    excel = sheets["features"].astype({"patient_id": str}).set_index("patient_id")[source.columns]
    np.testing.assert_allclose(excel.loc[source.index], source, rtol=1e-12)

    predictions = pd.read_csv(out / "predictions.csv", dtype={"patient_id": str})
    merged = pd.read_parquet(run / "evaluate" / "predictions.parquet")
    assert len(predictions) == len(merged)
    np.testing.assert_allclose(predictions["probability"], merged["probability"])
    thresholds = json.loads((run / "train" / "thresholds.json").read_text(encoding="utf-8"))
    expected = predictions["probability"] >= predictions["model"].map(thresholds)
    assert (predictions["predicted"] == expected.astype(int)).all()
    assert "Stacking ensemble" in set(predictions["model_name"])
    variables = pd.read_csv(out / "variables.csv")
    assert list(variables["column"]) == list(source.columns)
    assert set(variables["sequence"]) == {"t2w", "cet1w"}


def test_export_tables_errors_and_limits(cli, run_without, monkeypatch) -> None:
    run = run_without("segment", "deep", "explain", "evaluate")
    bad = cli("export-tables", "--run", run, "--format", "sav")
    assert bad.exit_code == 2 and "choose from csv, xlsx" in bad.output
    monkeypatch.setattr(export, "EXCEL_MAX_COLUMNS", 20)
    result = export.export_tables(run, ["xlsx"])
    assert result.out == run / "export" and list(result.files) == ["tables.xlsx"]
    assert any("features" in n and "exceed an Excel sheet" in n for n in result.notes)
    assert any(n.startswith("performance: not in this run") for n in result.notes)
    sheets = pd.read_excel(result.files["tables.xlsx"], sheet_name=None)
    assert "features" not in sheets and "predictions" in sheets  # train/predictions.parquet
