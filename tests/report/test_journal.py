"""What a journal needs from the report: display names, numbered captions, figures as separate
300-dpi files, a reference list for the methods named, a patient-flow figure, apparent
performance out of the main results, and the PDF skipped (not failed) without Pango."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from radiopipe.config.report import ReportConfig
from radiopipe.report import build_report, load_run
from radiopipe.report.context import ReportContext
from radiopipe.report.flow import patient_flow
from radiopipe.report.references import Citations, load_references
from tests.report.test_report import text_of

pytestmark = pytest.mark.xdist_group("report_run")


def section(html: str, name: str) -> str:
    part = html.split(f'id="{name}"', 1)[1]
    return text_of(part.split("<section", 1)[0])


@pytest.mark.slow  # the shared full report
def test_every_table_and_figure_is_numbered_and_captioned(full_report) -> None:
    html = full_report.files["html"].read_text(encoding="utf-8")
    text = text_of(html)
    figures = [int(n) for n in re.findall(r"Supplementary Figure S(\d+)\.", text)]
    tables = [int(n) for n in re.findall(r"Supplementary Table S(\d+)\.", text)]
    assert figures == list(range(1, len(figures) + 1)) and len(figures) >= 15
    assert tables == list(range(1, len(tables) + 1)) and len(tables) >= 15
    # every figure (a single one, or a row of panels) carries its number
    singles = len(re.findall(r"<figure style=", html))
    rows = html.count('<div class="figure-row')
    assert html.count('class="label">Supplementary Figure') == singles + rows == len(figures)
    for caption in re.findall(r"Supplementary Figure S\d+\. ([^.]{0,60})", text):
        assert caption.strip(), "a figure without a caption"


@pytest.mark.slow
def test_figures_are_written_as_pdf_png_and_tiff_at_300_dpi(full_report) -> None:
    folder = full_report.out / "figures"
    index = pd.read_csv(folder / "index.csv")
    summary = json.loads(full_report.files["summary"].read_text(encoding="utf-8"))
    stems = {f.rsplit(".", 1)[0] for f in index["file"]}
    assert summary["numbered"]["figures"] == len({re.sub(r"[a-z]$", "", s) for s in stems})
    for stem in stems:
        for ext in ("pdf", "png", "tiff"):
            assert (folder / f"{stem}.{ext}").stat().st_size > 1000, (stem, ext)
        assert (folder / f"{stem}.pdf").read_bytes().startswith(b"%PDF-")
    with Image.open(folder / "figure-S1.png") as png, Image.open(folder / "figure-S1.tiff") as tif:
        assert round(png.info["dpi"][0]) == 300 and round(tif.info["dpi"][0]) == 300
        assert png.size[0] >= 6 * 300  # a 6.8-inch figure at 300 dpi
    flow_caption = index.loc[index["file"] == "figure-S1.png", "caption"].iloc[0]
    assert flow_caption.startswith("Flow of patients")


@pytest.mark.slow
def test_display_names_and_apparent_performance_in_the_appendix(full_report) -> None:
    html = full_report.files["html"].read_text(encoding="utf-8")
    main = section(html, "performance") + section(html, "roc") + section(html, "calibration")
    assert "Stacking ensemble" in main and "Random forest" in main
    assert not re.search(r"\b(stack|lasso_lr|rf)\b", main), "code names in the main results"
    assert "apparent" not in main.lower()
    appendix = section(html, "apparent")
    assert "apparent, optimistic" in appendix and "Stacking ensemble" in appendix
    summary = json.loads(full_report.files["summary"].read_text(encoding="utf-8"))
    assert summary["shown"].index("apparent") > summary["shown"].index("methods")


@pytest.mark.slow
def test_every_method_named_in_the_methods_has_a_reference(full_report) -> None:
    html = full_report.files["html"].read_text(encoding="utf-8")
    methods, references = section(html, "methods"), section(html, "references")
    numbers = [int(n) for n in re.findall(r'<p class="reference">(\d+)\. ', html)]
    assert numbers == list(range(1, len(numbers) + 1))
    for name, work in (
        ("pyradiomics", "van Griethuysen"),
        ("ComBat", "Johnson WE"),
        ("ComBat", "Fortin JP"),
        ("DeLong", "DeLong ER"),
        ("SMOTE", "Chawla NV"),
        ("SHAP", "Lundberg SM"),
        ("Optuna", "Akiba T"),
        ("Holm", "Holm S"),
        ("Youden", "Youden WJ"),
    ):
        assert name in methods, name
        assert work in references, work
    cited = {int(n) for group in re.findall(r"\[([\d,– ]+)\]", methods)
             for n in re.findall(r"\d+", group)}  # fmt: skip
    assert cited and max(cited) <= len(numbers)
    checklist = section(html, "checklist")
    for work in ("Collins GS", "Kocak B, Baessler B", "Kocak B, Akinci"):
        assert work in references, work
    assert "subset, judged automatically from the run" in text_of(html)
    assert "Not a completed checklist" in checklist


def test_citations_number_in_order_of_first_use() -> None:
    citations = Citations()
    text = citations.cite("Features from pyradiomics. ComBat and SMOTE were fitted in folds.")
    assert text == "Features from pyradiomics [1, 2]. ComBat and SMOTE were fitted in folds [3–6]."
    again = citations.cite("AUC by DeLong; ComBat again.")
    assert again == "AUC by DeLong; ComBat again [3–5, 7]."
    refs = load_references()
    assert citations.listing()[0][1] == refs["pyradiomics"].text


def test_patient_flow_counts_exclusions_and_flags(run_without) -> None:
    run = run_without()
    manifest = pd.read_csv(run / "cohort" / "manifest.csv", dtype=str)
    ids = list(manifest["patient_id"])
    (run / "validate").mkdir()
    pd.DataFrame({"patient_id": [ids[0]], "file": ["x.nii.gz"], "problem": ["empty mask"]}).to_csv(
        run / "validate" / "problems.csv", index=False
    )
    (run / "extract" / "failures.csv").write_text(
        f"patient_id,sequence,file,error\n{ids[1]},t2w,a.nii.gz,boom\n"
    )
    predictions = pd.read_parquet(run / "evaluate" / "predictions.parquet")
    predictions.loc[predictions["patient_id"] != ids[0]].to_parquet(
        run / "evaluate" / "predictions.parquet"
    )
    ctx = ReportContext(load_run(run), ReportConfig(label_names={0: "alive", 1: "dead"}))
    flow = patient_flow(ctx)
    assert flow.total == len(ids) and flow.analysed == len(ids) - 1
    assert flow.excluded == {"input validation problems": 1}
    assert flow.flagged["feature extraction failed (imputed)"] == 1
    assert sum(n for _, n, _ in flow.sets) == len(ids) - 1
    assert ctx.label_name(1) == "dead"


def test_pdf_is_skipped_with_a_warning_when_weasyprint_cannot_load(
    run_without, monkeypatch, tmp_path, caplog
) -> None:
    class NoPango:  # what cffi raises when libpango is absent, at import of weasyprint
        def find_spec(self, name, path=None, target=None):
            if name == "weasyprint" or name.startswith("weasyprint."):
                raise OSError("cannot load library 'libpango-1.0-0': no such file")
            return None

    for name in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NoPango(), *sys.meta_path])
    run = run_without("segment", "deep", "explain")
    config = ReportConfig(figure_files=[], pages_png=False)
    with caplog.at_level("WARNING", logger="radiopipe"):
        result = build_report(run, tmp_path / "report", config)
    assert "pdf" not in result.files and result.files["html"].is_file()
    assert not (tmp_path / "report" / "report.pdf").exists()
    summary = json.loads(result.files["summary"].read_text(encoding="utf-8"))
    assert "libpango" in summary["pdf_skipped"] and "apt-get install" in summary["pdf_skipped"]
    assert any("PDF skipped" in r.getMessage() for r in caplog.records)
    from radiopipe.errors import RadiopipeError

    with pytest.raises(RadiopipeError, match="WeasyPrint is not usable"):
        build_report(run, tmp_path / "pdf_only", config.model_copy(update={"formats": ["pdf"]}))


def test_outcome_and_model_names_are_set_once_in_the_pipeline(tmp_path) -> None:
    from radiopipe.config.pipeline import load_pipeline
    from radiopipe.pipeline.graph import build_stages

    repo = Path(__file__).resolve().parents[2]
    demo = load_pipeline(repo / "pipelines" / "demo.yaml")
    names = {0: "unfavourable", 1: "favourable"}
    assert demo.cohort.label_names == names and demo.report.label_names == names
    stage = next(s for s in build_stages(demo) if s.name == "evaluate")
    written = stage.settings.model_dump(mode="json")["cohort_table"]["label_names"]
    assert {int(k): v for k, v in written.items()} == names
    text = (repo / "pipelines" / "demo.yaml").read_text(encoding="utf-8")
    own = tmp_path / "study.yaml"
    own.write_text(
        text.replace("{0: unfavourable, 1: favourable}", "{0: alive, 1: dead}").replace(
            "../configs", str(repo / "configs")
        )
        + "  label_names: {0: survivor, 1: non-survivor}\n  model_labels: {stack: Ensemble}\n"
    )
    config = load_pipeline(own)
    assert config.cohort.label_names == {0: "alive", 1: "dead"}
    assert config.report.label_names == {0: "survivor", 1: "non-survivor"}  # report's own wins
    assert config.report.model_label("stack") == "Ensemble"
    assert config.report.model_label("rf") == "Random forest"
    assert config.report.model_label("my_model") == "my_model"
    assert ReportConfig().label_names == {0: "negative", 1: "positive"}


def test_standalone_report_takes_the_outcome_names_the_run_used(run_without) -> None:
    import yaml

    from radiopipe.config import parse_config

    run = run_without("segment", "deep", "explain")
    path = run / "evaluate" / "config.resolved.yaml"
    settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    settings.setdefault("cohort_table", {})["label_names"] = {"0": "alive", "1": "dead"}
    path.write_text(yaml.safe_dump(settings))
    as_cli = parse_config(ReportConfig().model_dump(), ReportConfig, source="options")
    for config in (ReportConfig(), as_cli):
        assert ReportContext(load_run(run), config).label_names == {0: "alive", 1: "dead"}
    own = ReportConfig(label_names={0: "no", 1: "yes"})
    assert ReportContext(load_run(run), own).label_name(1) == "yes"
