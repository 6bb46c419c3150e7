"""The model card of a bundle: versions, data summary, intended use, metrics on each test set.

Written twice: ``model_card.json`` (for programs) and ``model_card.md`` (for people). Every
number comes from a file the run wrote (manifest, thresholds, evaluate's performance table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from radiopipe import __version__, runs
from radiopipe.contracts import TEST_SPLITS
from radiopipe.modeling.persistence import package_versions

INTENDED_USE = (
    "Research use: an estimate of the probability of the positive outcome for an adult "
    "patient imaged with the sequences listed, at a centre like those of the training data, "
    "from images processed exactly as the bundle prescribes. Not a medical device; not "
    "validated for clinical decisions. Patients of a centre not seen in training are "
    "scored under the unseen-site policy printed with each prediction."
)
METRIC_COLUMNS = (
    "model", "split", "n", "n_cases", "auc", "auc_ci_low", "auc_ci_high", "threshold",
    "sensitivity", "specificity",
)  # fmt: skip
EXTRA_PACKAGES = ("torch", "SimpleITK", "pyradiomics-bhklab", "monai")


def versions() -> dict[str, str | None]:
    """radiopipe and the packages whose behaviour decides the scores."""
    return {
        "radiopipe": __version__,
        **package_versions(),
        **runs.package_versions(EXTRA_PACKAGES),
    }


def data_summary(manifest: Path | None, training_sites: list[str]) -> dict[str, Any]:
    """Patients per site and split with their outcome counts (no patient identifiers)."""
    if manifest is None:
        return {"patients": None, "by_site_and_split": [], "training_sites": training_sites}
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    label = pd.to_numeric(table["label"], errors="coerce")
    rows = (
        table.assign(positive=label.eq(1), known=label.notna())
        .groupby(["site", "split"], sort=True)
        .agg(n=("patient_id", "size"), n_positive=("positive", "sum"), n_labelled=("known", "sum"))
        .reset_index()
    )
    return {
        "patients": len(table),
        "by_site_and_split": rows.astype({"n": int, "n_positive": int, "n_labelled": int}).to_dict(
            "records"
        ),
        "training_sites": training_sites,
    }


def test_metrics(performance: Path | None, models: list[str]) -> list[dict[str, Any]]:
    """AUC (95% CI), sensitivity and specificity at the frozen threshold on each test split."""
    if performance is None:
        return []
    table = pd.read_csv(performance)
    rows = table[table["split"].isin(list(TEST_SPLITS)) & table["model"].isin(models)]
    columns = [c for c in METRIC_COLUMNS if c in rows.columns]
    return rows[columns].to_dict("records")


def model_card(
    name: str,
    model_card_json: dict[str, Any],
    manifest: Path | None,
    performance: Path | None,
    parts: dict[str, Any],
) -> dict[str, Any]:
    """The card's content as one mapping."""
    models = list(model_card_json["models"])
    return {
        "name": name,
        "intended_use": INTENDED_USE,
        "versions": versions(),
        "data": data_summary(manifest, list(model_card_json.get("training_sites", []))),
        "design": model_card_json.get("design"),
        "n_training_patients": model_card_json.get("n_training_patients"),
        "models": models,
        "reference_model": "stack",
        "thresholds": model_card_json.get("thresholds", {}),
        "metrics": test_metrics(performance, models),
        **parts,
    }


def card_markdown(card: dict[str, Any]) -> str:
    """The card as a short Markdown page."""
    lines = [f"# Model card: {card['name']}", "", "## Intended use", "", card["intended_use"], ""]
    lines += ["## Inputs", ""]
    lines += [f"- sequences: {', '.join(card['sequences'])}"]
    lines += [f"- features: {card['n_features']} pyradiomics features "
              f"(settings hash `{card['settings_sha256'][:16]}`)"]  # fmt: skip
    lines += [f"- preprocessing: {'yes' if card['preprocess'] else 'none'}"]
    lines += [
        f"- segmentation: {'V-Net in the bundle' if card['segmentation'] else 'masks required'}"
    ]
    unseen = card["unseen_site"]
    if unseen.get("rule"):
        lines += [f"- unseen sites: rule `{unseen['rule']}` (estimate needs at least "
                  f"{unseen['min_site_size']} patients of a new site scored together; "
                  "`--unseen-site passthrough` scores one patient unharmonised)", ""]  # fmt: skip
    else:
        lines += ["- unseen sites: no ComBat harmonisation", ""]
    lines += ["## Training data", ""]
    data = card["data"]
    lines += [
        f"{data['patients']} patients; training sites: {', '.join(data['training_sites'])}.",
        "",
    ]
    if data["by_site_and_split"]:
        lines += ["| site | split | n | positive |", "|---|---|---:|---:|"]
        lines += [f"| {r['site']} | {r['split'] or '-'} | {r['n']} | {r['n_positive']} |"
                  for r in data["by_site_and_split"]]  # fmt: skip
        lines.append("")
    lines += ["## Frozen thresholds", ""]
    lines += [f"- {m}: {t:.4f}" for m, t in sorted(card["thresholds"].items())]
    lines += ["", "## Metrics on each test set", ""]
    if card["metrics"]:
        lines += ["| model | split | n | AUC (95% CI) | sensitivity | specificity |",
                  "|---|---|---:|---|---:|---:|"]  # fmt: skip
        for r in card["metrics"]:
            get = {k: r.get(k, float("nan")) for k in METRIC_COLUMNS}
            lines.append(
                f"| {r['model']} | {r['split']} | {r['n']} | {get['auc']:.3f} "
                f"({get['auc_ci_low']:.3f}-{get['auc_ci_high']:.3f}) "
                f"| {get['sensitivity']:.3f} | {get['specificity']:.3f} |"
            )
    else:
        lines.append("No evaluation in the run (no evaluate/performance.csv).")
    lines += ["", "## Versions", ""]
    lines += [f"- {k}: {v}" for k, v in card["versions"].items() if v]
    return "\n".join(lines) + "\n"
