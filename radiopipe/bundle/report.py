"""The per-patient report of ``radiopipe predict``: probability and risk group, the mask
overlay, QC flags, a SHAP waterfall; one self-contained HTML page and its PDF per patient."""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from radiopipe.atomic import write_text
from radiopipe.bundle.card import INTENDED_USE
from radiopipe.bundle.loader import Bundle

log = logging.getLogger(__name__)

REPORTS_DIR = "reports"
TEMPLATE = "patient.html.j2"


def _png(fig: object) -> str:
    """A matplotlib figure as a ``data:`` URI (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def overlay_figure(images: dict[str, str], masks: dict[str, str], patient: str) -> str | None:
    """Each sequence's axial slice with the most lesion, the mask outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radiopipe.imaging import read_image

    pairs = [(s, images[s], masks.get(s)) for s in images if masks.get(s) not in (None, "None")]
    if not pairs:
        return None
    import SimpleITK as sitk

    fig, axes = plt.subplots(1, len(pairs), figsize=(3.3 * len(pairs), 3.5), squeeze=False)
    for ax, (seq, image_file, mask_file) in zip(axes[0], pairs, strict=True):
        image = read_image(image_file, patient=patient)
        mask = sitk.Resample(read_image(mask_file, patient=patient), image, sitk.Transform(),
                             sitk.sitkNearestNeighbor, 0)  # fmt: skip
        volume = sitk.GetArrayFromImage(image).astype(float)
        label = sitk.GetArrayFromImage(mask) > 0
        z = int(np.argmax(label.sum(axis=(1, 2)))) if label.any() else volume.shape[0] // 2
        ax.imshow(volume[z], cmap="gray", origin="lower")
        if label[z].any():
            ax.contour(label[z].astype(float), levels=[0.5], colors="#ff3b30", linewidths=1.2)
        ax.set_title(f"{seq} (slice {z})", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def waterfall_figure(explanation: object, patient: str) -> str | None:
    """The SHAP waterfall of one patient (None when the patient was not explained)."""
    if explanation is None or patient not in explanation.patients.index:  # type: ignore[attr-defined]
        return None
    from radiopipe.explain.plots import waterfall_plot

    return _png(waterfall_plot(explanation, patient, max_display=10))


def write_reports(
    bundle: Bundle,
    predictions: pd.DataFrame,
    out: Path,
    images: dict[str, dict[str, str]] | None = None,
    masks: dict[str, dict[str, str]] | None = None,
    explanation: object = None,
    given_masks: dict[str, list[str]] | None = None,
    pdf: bool = True,
) -> dict[str, dict[str, Path]]:
    """``out/reports/<patient>.html`` (and ``.pdf``) for every scored patient."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    from radiopipe.report.render import write_pdf

    env = Environment(
        loader=PackageLoader("radiopipe.bundle", "templates"),
        autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined,
    )  # fmt: skip
    template = env.get_template(TEMPLATE)
    reference = bundle.reference_model
    folder = out / REPORTS_DIR
    written: dict[str, dict[str, Path]] = {}
    scored_at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for patient, rows in predictions.groupby("patient_id", sort=True):
        patient = str(patient)
        main = rows[rows["model"] == reference].iloc[0]
        automatic = [s for s in bundle.sequences if s not in (given_masks or {}).get(patient, [])]
        source = (
            "given in the manifest" if not automatic
            else f"automatic (bundle V-Net) for {', '.join(automatic)}"
        )  # fmt: skip
        note = "No SHAP background in the bundle." if explanation is None else "Not explained."
        html = template.render(
            patient=patient, bundle_name=bundle.card.get("name", ""), site=main["site"],
            scored_at=scored_at, reference=reference, probability=float(main["probability"]),
            risk_group=main["risk_group"], threshold=float(main["threshold"]),
            unseen_site_policy=main["unseen_site_policy"], qc_flags=main["qc_flags"],
            mask_source=source if images else "given with the feature table",
            models=rows.sort_values("model").to_dict("records"),
            overlay=overlay_figure(images[patient], (masks or {}).get(patient, {}), patient)
            if images and patient in images else None,
            waterfall=waterfall_figure(explanation, patient), waterfall_note=note,
            intended_use=INTENDED_USE,
        )  # fmt: skip
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", patient).lstrip(".") or "_"
        files = {"html": write_text(folder / f"{stem}.html", html)}
        if pdf:
            files["pdf"] = write_pdf(html, folder / f"{stem}.pdf")
        written[patient] = files
    return written
