"""The report of a study run folder: every section from its inputs, a self-contained HTML file,
a valid multi-page PDF from the same template, and a first page that names the best model."""

from __future__ import annotations

import json
import re
import zlib

import pandas as pd
import pytest

from radiopipe.config.report import ReportConfig
from radiopipe.report import build, build_report, load_run
from radiopipe.report.context import ReportContext
from radiopipe.report.elements import Table
from radiopipe.report.figures import split_title
from radiopipe.report.formatting import p_text
from radiopipe.report.sections import cohort

# the tests of this module share a session fixture: keep them on one xdist worker
pytestmark = pytest.mark.xdist_group("report_run")

SECTIONS = (
    "flow",
    "cohort",
    "segmentation",
    "features",
    "harmonisation",
    "performance",
    "roc",
    "calibration",
    "decision",
    "shap",
    "deep",
    "methods",
    "apparent",
    "checklist",
    "references",
    "provenance",
)


def section_ids(html: str) -> set[str]:
    return set(re.findall(r'<section class="section[^"]*" id="([a-z]+)"', html))


def text_of(html: str) -> str:
    """The visible text, tags and data URIs removed, whitespace collapsed."""
    html = re.sub(r"data:[^\"')]+", "", html)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.slow  # the shared full report (HTML + PDF) takes ~30 s to build
def test_every_section_is_built_from_a_complete_run(full_report) -> None:
    html = full_report.files["html"].read_text(encoding="utf-8")
    assert section_ids(html) == set(SECTIONS)
    assert full_report.shown == list(SECTIONS)
    text = text_of(html)
    for expected in (
        "Patient characteristics by split",
        "Patient characteristics by site",
        "Automatic against reference segmentation",
        "Feature selection funnel",
        "Selection frequency",
        "Site separability",
        "External test",
        "Calibration intercept",
        "Net benefit",
        "importance by feature group",
        "3D DenseNet (CNN)",
        "Leakage-safe design",
        "TRIPOD+AI",
        "CLEAR",
    ):
        assert expected in text, expected
    assert len(re.findall(r'<img src="data:image/(?:svg\+xml|png);base64,', html)) >= 15


@pytest.mark.slow  # the shared full report (HTML + PDF) takes ~30 s to build
def test_html_is_self_contained(full_report) -> None:
    html = full_report.files["html"].read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:|#)""", html)
    assert not re.search(r"url\(\s*['\"]?(?!data:)", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    assert "<style>" in html and "table.data" in html  # the stylesheet is inlined


def pdf_pages(pdf: bytes) -> int:
    """Page objects of a PDF, looking inside compressed object streams too."""
    chunks = [pdf]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return sum(len(re.findall(rb"/Type\s*/Page(?![s\w])", c)) for c in chunks)


@pytest.mark.slow  # the shared full report (HTML + PDF) takes ~30 s to build
def test_pdf_is_valid_with_several_pages(full_report) -> None:
    if not full_report.files["pdf"].is_file():  # WeasyPrint/Pango missing: HTML only, a note
        skipped = [n for n in full_report.notes if n.startswith("PDF skipped")]
        assert skipped, "no PDF and no note saying why"
        pytest.skip(skipped[0])
    pdf = full_report.files["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = pdf_pages(pdf)
    assert pages > 5
    if full_report.pages:  # pdftoppm present: one image per page
        assert len(full_report.pages) == pages
        assert full_report.pages[0].name == "page-001.png"
    else:
        assert any("pdftoppm" in note for note in full_report.notes)
    assert not list(full_report.out.rglob(".*.tmp*"))


@pytest.mark.slow  # the shared full report (HTML + PDF) takes ~30 s to build
def test_first_page_names_the_prespecified_reference_and_section4_p_values(
    full_report, study_run
) -> None:
    html = full_report.files["html"].read_text(encoding="utf-8")
    cover = text_of(html.split('<section class="section')[0])
    performance = pd.read_csv(study_run / "evaluate" / "performance.csv")
    reference = performance["reference"].iloc[0]
    assert (performance["reference"] == reference).all()
    external = performance.loc[performance["split"] == "external_test"]
    row = external.loc[external["model"] == reference].iloc[0]
    label = ReportConfig().model_label  # display names on the first page, never code names
    assert f"pre-specified primary model, {label(reference)}" in cover
    assert f"{row['auc']:.3f} (95% CI {row['auc_ci_low']:.3f}–" in cover
    assert "had the highest AUC" not in cover
    # the same Holm p-values as the performance section (delong.csv)
    delong = pd.read_csv(study_run / "evaluate" / "delong.csv")
    paired = delong.loc[(delong["comparison"] == "paired") & (delong["split"] == "external_test")]
    assert set(paired["reference"]) == {reference}
    for r in paired.itertuples():
        assert f"{label(r.model)} (ΔAUC" in cover
        assert f"p = {p_text(r.p_holm)}" in cover
    assert "Contents" in cover and "Discrimination (AUC, 95% DeLong CI)" in cover


def test_missing_parts_are_left_out_with_a_note(cli, run_without) -> None:
    """Through the command: sections without inputs are listed on the first page, not shown."""
    run = run_without("segment", "deep", "explain", "robustness")
    result = cli("report", "--run", run, "--format", "html", "--title", "HIFU outcome")
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())
    assert "HTML report:" in printed and "not in this run: Segmentation quality" in printed
    html = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert "<h1>HIFU outcome</h1>" in html
    shown = section_ids(html)
    assert {"segmentation", "deep", "shap"}.isdisjoint(shown)
    assert {"cohort", "performance", "roc", "features", "methods", "checklist"} <= shown
    for absent, note in (
        ("segmentation", "no segment/ folder"),
        ("deep", "no deep/ folder"),
        ("shap", "SHAP values were not computed"),
    ):
        item = re.search(rf'<li id="absent-{absent}">(.*?)</li>', html, re.S)
        assert item and note in text_of(item.group(1)), absent
    assert "Robustness to segmentation" not in html
    assert not (run / "report" / "report.pdf").exists()
    assert (run / "report" / "provenance.json").is_file()
    summary = json.loads((run / "report" / "report.json").read_text(encoding="utf-8"))
    assert set(summary["skipped"]) == {"segmentation", "deep", "shap", "known_answer", "clinical"}


def test_a_broken_part_costs_only_its_section(run_without, monkeypatch) -> None:
    run = run_without("deep")
    (run / "explain" / "explain.json").write_text("{not json")
    keep = {"cohort", "shap", "performance"}  # the other sections do not matter here
    monkeypatch.setattr(build, "SECTIONS", tuple(s for s in build.SECTIONS if s[0] in keep))
    result = build_report(run, config=ReportConfig(formats=["html"]))
    assert result.shown == ["cohort", "performance"]
    assert any("Model explanations (SHAP)" in n and "could not be built" in n for n in result.notes)
    html = result.files["html"].read_text(encoding="utf-8")
    assert "could not be built" in text_of(html)


def test_cohort_table_is_rendered_from_evaluate_or_said_absent(study_run, run_without) -> None:
    run = run_without("segment", "deep", "explain")
    (run / "evaluate" / "cohort_table.csv").unlink()
    absent = cohort.build(ReportContext(load_run(run), ReportConfig()))
    written = cohort.build(ReportContext(load_run(study_run), ReportConfig()))
    assert not [b for b in absent.blocks if isinstance(b, Table)]
    assert "no evaluate/cohort_table.csv" in absent.note  # not recomputed by the report
    tables = [b for b in written.blocks if isinstance(b, Table)]
    assert [t.caption for t in tables] == [
        "Patient characteristics by split",
        "Patient characteristics by site",
    ]
    assert any("Funaki type" in str(cell) for row in tables[0].rows for cell in row)


def test_harmonisation_section_renders_the_train_stage_files(study_run, run_without) -> None:
    from radiopipe.report.sections import harmonisation

    written = pd.read_csv(study_run / "train" / "harmonisation.csv")
    assert list(written["features"]) == ["before", "after"]
    assert written.loc[1, "auc"] < written.loc[0, "auc"]  # ComBat removes the site effect
    section = harmonisation.build(ReportContext(load_run(study_run), ReportConfig()))
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert [row[-1] for row in table.rows] == [f"{a:.3f}" for a in written["auc"]]
    run = run_without("segment", "deep", "explain")
    (run / "train" / "harmonisation.csv").rename(run / "train" / "harmonization.csv")
    legacy = harmonisation.build(ReportContext(load_run(run), ReportConfig()))
    assert [b.rows for b in legacy.blocks if isinstance(b, Table)] == [table.rows]
    (run / "train" / "harmonization.csv").unlink()
    absent = harmonisation.build(ReportContext(load_run(run), ReportConfig()))
    assert "no train/harmonisation.csv" in absent.note and not absent.blocks


def test_first_page_reads_the_reference_comparisons_of_delong(study_run) -> None:
    """Page 1 states the rows of delong.csv for the pre-specified reference, recomputes
    nothing, orders Table 1 by training out-of-fold AUC and never shows the apparent split."""
    from radiopipe.report.summary import headline_table, model_order, primary_model

    delong = pd.read_csv(study_run / "evaluate" / "delong.csv", float_precision="round_trip")
    ctx = ReportContext(load_run(study_run), ReportConfig())
    verdict = primary_model(ctx)
    assert verdict.reference == ctx.reference == "stack"
    rows = delong.loc[
        (delong["comparison"] == "paired")
        & (delong["split"] == verdict.split)
        & (delong["reference"] == verdict.reference)
    ]
    assert sorted(c.model for c in verdict.comparisons) == sorted(rows["model"])
    assert [c.p_holm for c in verdict.comparisons] == pytest.approx(list(rows["p_holm"]))
    performance = ctx.performance
    oof = performance.loc[performance["split"].isin(["train_oof", "cv"])]
    models, how = model_order(ctx)
    expected = oof.sort_values(["auc", "model"], ascending=[False, True])["model"].tolist()
    assert models[: len(expected)] == expected and "training" in how
    table = headline_table(ctx, verdict)
    assert [r[0].value for r in table.rows] == [ctx.model_label(m) for m in models]
    assert split_title("train") not in table.header  # the apparent split stays out of Table 1
    # a report setting naming another reference is ignored with a warning
    other = ReportContext(load_run(study_run), ReportConfig(reference="rf"))
    assert other.reference == "stack"
    assert any("report reference rf ignored" in w for w in other.warnings)


def test_exploratory_best_only_when_asked_and_labelled(study_run) -> None:
    from radiopipe.report.summary import EXPLORATORY_TITLE, exploratory_section

    plain = exploratory_section(ReportContext(load_run(study_run), ReportConfig()))
    assert not plain.present
    asked = ReportConfig(exploratory_best=True)
    section = exploratory_section(ReportContext(load_run(study_run), asked))
    assert section.present and "selected on the test set" in EXPLORATORY_TITLE
    assert "Exploratory: selected on the test set" in section.blocks[1].caption


def test_old_report_setting_of_the_best_split_is_read_and_ignored() -> None:
    config = ReportConfig.model_validate({"primary_splits": ["external_test"]})
    assert "primary_splits" not in config.model_dump()


def test_apparent_performance_only_in_its_appendix(study_run) -> None:
    from radiopipe.report.sections.appendix import apparent_section

    ctx = ReportContext(load_run(study_run), ReportConfig())
    assert "train" not in ctx.splits  # main tables and figures: held-out and OOF only
    section = apparent_section(ctx)
    assert section.present and "apparent, optimistic" in section.title
    table = section.blocks[0]
    apparent = ctx.performance.loc[ctx.performance["split"] == "train"]
    assert sorted(r[0] for r in table.rows) == sorted(map(ctx.model_label, apparent["model"]))


def test_harmonisation_sensitivity_is_shown_next_to_the_main_table(run_without) -> None:
    from radiopipe.report.sections import performance
    from radiopipe.report.summary import sensitivity_table

    run = run_without("deep")
    rows = [
        ("external_test", "stack", "estimate", 0.81), ("external_test", "stack", "passthrough",
         0.74), ("external_test", "stack", "none", 0.70),
    ]  # fmt: skip
    pd.DataFrame(
        [{"split": s, "model": m, "harmonisation": h, "auc": a, "auc_ci_low": a - 0.1,
          "auc_ci_high": a + 0.1, "n": 40} for s, m, h, a in rows]
    ).to_csv(run / "evaluate" / "harmonisation_sensitivity.csv", index=False)  # fmt: skip
    ctx = ReportContext(load_run(run), ReportConfig())
    table = sensitivity_table(ctx)
    assert table is not None and len(table.header) == 5
    assert [c.value for c in table.rows[0][2:]] == ["0.810", "0.740", "0.700"]
    section = performance.build(ctx)
    assert any(getattr(b, "caption", "").startswith("Harmonisation sensitivity") for b in
               section.blocks)  # fmt: skip
