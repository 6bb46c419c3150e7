"""Generate a synthetic multi-centre cohort: volumes, masks, manifest, truth table, parameters.

The output folder holds ``images/``, ``masks/``, ``manifest.csv`` (the radiopipe manifest),
``truth.csv`` (hidden properties and outcome-model values), ``synth.json`` (every parameter),
plus the run record (``provenance.json``, ``config.resolved.yaml``, ``radiopipe.log``).
Everything except the run record is byte-identical for the same settings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from radiopipe import __version__
from radiopipe.atomic import write_csv, write_json
from radiopipe.cohort.manifest import write_manifest
from radiopipe.config import parse_config
from radiopipe.config.synth import (
    DEFAULT_EFFECT_SIZE,
    DEFAULT_POSITIVE_FRACTION,
    DEFAULT_SITES,
    SynthConfig,
    parse_sites,
)
from radiopipe.contracts import Split
from radiopipe.errors import RadiopipeError
from radiopipe.progress import progress_bar, rate_text
from radiopipe.runs import LOG_FILE, PROVENANCE_FILE, RESOLVED_CONFIG_FILE
from radiopipe.synth.clinical_signal import record as clinical_signal_record
from radiopipe.synth.patient import Patient
from radiopipe.synth.scanner import CLAMP, REFERENCE_SITE, SEQUENCES, SIZES, sequence_grid
from radiopipe.synth.splits import assign_splits
from radiopipe.synth.tissues import SIGNAL
from radiopipe.synth.writer import (
    IMAGES_DIR,
    MASKS_DIR,
    PatientJob,
    files_complete,
    outcome_model,
    patient_files,
    run_job,
    site_scanner,
)

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.csv"
TRUTH_FILE = "truth.csv"
PARAMS_FILE = "synth.json"
FORMAT = "radiopipe-synth"
FORMAT_VERSION = 1
OWN_FILES = (
    MANIFEST_FILE,
    TRUTH_FILE,
    PARAMS_FILE,
    PROVENANCE_FILE,
    RESOLVED_CONFIG_FILE,
    LOG_FILE,
)


def generate_cohort(
    out_dir: str | Path,
    sites: Mapping[str, int] | str = DEFAULT_SITES,
    seed: int = 0,
    size: str = "default",
    effect_size: float = DEFAULT_EFFECT_SIZE,
    positive_fraction: float = DEFAULT_POSITIVE_FRACTION,
    external_sites: Sequence[str] | None = None,
    internal_test_fraction: float = 0.2,
    scanner_effect: float = 1.0,
    confound: bool = False,
    confound_shift: float = 1.0,
    workers: int | None = None,
    overwrite: bool = False,
    show_progress: bool = False,
) -> Path:
    """Write a synthetic cohort into ``out_dir``; return the manifest path.

    ``external_sites`` defaults to ``("B",)`` when there is a site B, else none.
    ``scanner_effect`` (0: identical scanners, 1: each site's own, 2: strong) and ``confound``
    (per-site shift of the outcome log-odds, up to ``confound_shift``) set the scenario. Re-running
    with the same settings resumes: patients whose files exist are not rendered again.
    """
    config = parse_config(
        {
            "sites": parse_sites(sites) if isinstance(sites, str) else dict(sites),
            "seed": seed,
            "size": size,
            "effect_size": effect_size,
            "positive_fraction": positive_fraction,
            "external_sites": None if external_sites is None else list(external_sites),
            "internal_test_fraction": internal_test_fraction,
            "scanner_effect": scanner_effect,
            "confound": confound,
            "confound_shift": confound_shift,
        },
        SynthConfig,
        source="synth settings",
    )
    if workers is not None and workers < 1:
        raise RadiopipeError(f"workers must be at least 1, not {workers}")
    out = Path(out_dir)
    params = cohort_parameters(config)
    _prepare_folder(out, params, overwrite)
    write_json(out / PARAMS_FILE, params)
    patients = _make_patients(out, config, workers, show_progress)
    return _write_tables(out, config, patients)


def cohort_parameters(config: SynthConfig) -> dict:
    """Every parameter that shapes the cohort (written to synth.json)."""
    size = SIZES[config.size]
    scanners = {
        site: site_scanner(site, config.seed, config.scanner_effect) for site in config.sites
    }
    grids = {
        site: {
            seq: {
                "shape_xyz": list(reversed(g.shape)),
                "spacing_mm": list(g.spacing),
            }
            for seq in SEQUENCES
            for g in [sequence_grid(scanner.protocol(seq), size, (0.0, 0.0, 0.0))]
        }
        for site, scanner in scanners.items()
    }
    params = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "radiopipe_version": __version__,
        "settings": config.settings_record(),
        "size_preset": asdict(size),
        "scanners": {site: s.as_dict() for site, s in scanners.items()},
        "grids": grids,
        "outcome_model": outcome_model(config.effect_size, config.positive_fraction).as_dict(),
        "tissue_signal": SIGNAL,
        "clinical_signal": clinical_signal_record(),
        "files": {
            "manifest": MANIFEST_FILE,
            "truth": TRUTH_FILE,
            "images": f"{IMAGES_DIR}/<patient_id>_<sequence>.nii.gz",
            "masks": f"{MASKS_DIR}/<patient_id>_<sequence>.nii.gz",
        },
    }
    if config.scanner_effect != 1.0:
        params["scanner_effect"] = {
            "value": config.scanner_effect,
            "reference_site": REFERENCE_SITE,
            "rule": "each protocol parameter's deviation from the reference scanner's, scaled "
            "by the value: multiplicatively for inplane_mm, slice_mm, snr and scale, additively "
            "for offset, gamma, blur_vox, bias_sd, coil and motion_mm; then clamped",
            "clamp": {k: list(v) for k, v in CLAMP.items()},
        }
    if config.confound:
        params["confound"] = {
            "rule": "site k of n (order given) adds confound_shift * (2k/(n-1) - 1) to every "
            "patient's outcome log-odds (truth.csv column site_shift)",
            "site_shift": config.site_shifts(),
        }
    return params


def _prepare_folder(out: Path, params: dict, overwrite: bool) -> None:
    """Refuse a folder holding anything but a synthetic cohort; resume or clear our own."""
    if out.exists() and not out.is_dir():
        raise RadiopipeError(f"{out}: exists and is not a folder; choose another --out")
    bookkeeping = {LOG_FILE, PROVENANCE_FILE, RESOLVED_CONFIG_FILE, ".stages"}
    if not out.exists() or all(p.name in bookkeeping for p in out.iterdir()):
        return  # empty, or only the stage engine's records
    previous = _read_params(out / PARAMS_FILE)
    if previous is None:
        raise RadiopipeError(
            f"{out}: folder is not empty and holds no synthetic cohort ({PARAMS_FILE} missing); "
            "choose an empty or new --out folder"
        )
    if previous == params:
        log.info("resuming the synthetic cohort in %s (same settings)", out)
        return
    if not overwrite:
        changed = _differences(previous, params)
        raise RadiopipeError(
            f"{out}: holds a synthetic cohort made with other settings "
            f"(differs in: {', '.join(changed)}); choose another --out or pass --overwrite"
        )
    log.info("overwriting the synthetic cohort in %s", out)
    for name in (IMAGES_DIR, MASKS_DIR, "dicom"):  # dicom/: the --format dicom export
        shutil.rmtree(out / name, ignore_errors=True)
    for name in (*OWN_FILES, "import_rules.yaml", "clinical.csv"):
        (out / name).unlink(missing_ok=True)


def _differences(previous: dict, params: dict) -> list[str]:
    """Human-readable list of what differs between two parameter records."""
    old_settings, new_settings = previous.get("settings") or {}, params["settings"]
    changed = [
        f"{key} {old_settings.get(key)!r} -> {new_settings[key]!r}"
        for key in new_settings
        if old_settings.get(key) != new_settings[key]
    ]
    changed += [k for k in params if k != "settings" and previous.get(k) != params[k]]
    return changed


def _read_params(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _jobs(out: Path, config: SynthConfig) -> list[PatientJob]:
    width = max(4, len(str(max(config.sites.values()))))
    shifts = config.site_shifts()
    jobs = []
    for site, count in config.sites.items():
        for index in range(1, count + 1):
            pid = f"{site}-{index:0{width}d}"
            jobs.append(
                PatientJob(
                    out_dir=str(out),
                    seed=config.seed,
                    site=site,
                    index=index,
                    id_width=width,
                    size=config.size,
                    effect_size=config.effect_size,
                    positive_fraction=config.positive_fraction,
                    render=not files_complete(out, pid),
                    scanner_effect=config.scanner_effect,
                    intercept_shift=shifts[site],
                )
            )
    return jobs


def _make_patients(
    out: Path, config: SynthConfig, workers: int | None, show_progress: bool
) -> list[Patient]:
    """Run every patient's job (in worker processes when asked); results in job order."""
    jobs = _jobs(out, config)
    todo = sum(job.render for job in jobs)
    log.info(
        "synthesising %d patients (%d to render, %d already written) at size %s",
        len(jobs), todo, len(jobs) - todo, config.size,
    )  # fmt: skip
    workers = min(workers or os.cpu_count() or 1, max(todo, 1))
    # The pool is started before the progress display so no thread exists when workers fork.
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    results: dict[int, Patient] = {}
    try:
        with _progress(show_progress, len(jobs)) as advance:
            if pool is None:
                for i, job in enumerate(jobs):
                    results[i] = run_job(job)
                    advance()
            else:
                futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    advance()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return [results[i] for i in range(len(jobs))]


@contextlib.contextmanager
def _progress(show: bool, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar (or nothing) yielding a function that advances it by one."""
    if not show:
        yield lambda: None
        return
    with progress_bar() as bar:
        task = bar.add_task("synthesising", total=total, rate="", status="")

        def advance() -> None:
            bar.update(task, advance=1, rate=rate_text(bar, task, "patients"))

        yield advance


def _add_clinical_signal(truth: pd.DataFrame, config: SynthConfig, patients: list) -> None:
    """truth.csv's ``clinical_linear_predictor`` and ``clinical_share`` (synth/clinical_signal)."""
    from radiopipe.synth import clinical_signal

    covariates = pd.DataFrame([p.covariates() for p in patients], index=truth.index)
    shifts = truth.get("site_shift")
    model = outcome_model(config.effect_size, config.positive_fraction)
    extra = clinical_signal.clinical_columns(covariates, model, shifts)
    at = truth.columns.get_loc("linear_predictor") + 1
    for offset, name in enumerate(extra.columns):
        truth.insert(at + offset, name, extra[name])


def _write_tables(out: Path, config: SynthConfig, patients: list[Patient]) -> Path:
    """Write truth.csv and, last, manifest.csv (its presence marks a finished cohort)."""
    truth = pd.DataFrame([p.truth_row() for p in patients])
    split = assign_splits(
        truth, config.external_sites or [], config.internal_test_fraction, config.seed
    )
    truth.insert(2, "split", split)
    if config.confound:
        truth.insert(
            truth.columns.get_loc("linear_predictor"),
            "site_shift",
            truth["site"].map(config.site_shifts()),
        )
    _add_clinical_signal(truth, config, patients)
    rows = []
    for patient, split_name in zip(patients, split, strict=True):
        row = {
            "patient_id": patient.patient_id,
            "site": patient.site,
            "split": split_name,
            "label": patient.label,
        }
        row.update(
            {k: str(out.resolve() / v) for k, v in patient_files(patient.patient_id).items()}
        )
        row.update(patient.covariates())
        rows.append(row)
    write_csv(out / TRUTH_FILE, truth)
    manifest = write_manifest(pd.DataFrame(rows), out / MANIFEST_FILE)
    counts = truth.groupby(["site", "split"])["label"].agg(["size", "sum"])
    log.info("wrote %s: %d patients", manifest, len(truth))
    log.debug("patients and positives per site and split:\n%s", counts.to_string())
    if not (split == Split.TRAIN).any():
        log.warning("no training patients: every site is an external test site")
    return manifest
