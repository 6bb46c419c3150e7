"""Choose one series per sequence and patient by the rules (description, contrast, time...)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from radiopipe.cohort.dicom.geometry import Geometry
from radiopipe.cohort.dicom.scan import SeriesInfo
from radiopipe.config.dicom import SequenceRule


@dataclass
class Candidate:
    """An image series of a patient with its checked geometry."""

    info: SeriesInfo
    geometry: Geometry
    picked: list[str] = field(default_factory=list)  # sequences that chose it


def rejection(rule: SequenceRule, candidate: Candidate) -> str | None:
    """Why a series does not fit a sequence rule, or None if it fits."""
    info = candidate.info
    if info.modality != rule.modality:
        return f"modality {info.modality or '?'}"
    named = any(re.search(p, info.description) for p in rule.description) or any(
        re.search(p, info.protocol) for p in rule.protocol
    )
    if not named:
        return "description/protocol"
    if any(re.search(p, info.description) or re.search(p, info.protocol) for p in rule.exclude):
        return "excluded"
    if rule.contrast is not None and info.contrast != rule.contrast:
        return "contrast" if rule.contrast else "has contrast"
    if rule.acquisition_type and info.acquisition_type != rule.acquisition_type:
        return f"MRAcquisitionType {info.acquisition_type or '?'}"
    if candidate.geometry.n_slices < rule.min_slices:
        return f"{candidate.geometry.n_slices} < {rule.min_slices} slices"
    return None


def choose(
    sequence: str, rule: SequenceRule, candidates: list[Candidate], patient: str
) -> tuple[Candidate | None, list[str]]:
    """The one series a rule picks, or None with the problems (listing the candidates)."""
    fitting = [c for c in candidates if rejection(rule, c) is None]
    if not fitting:
        listed = (
            "; ".join(f"{c.info.label()} [{rejection(rule, c)}]" for c in candidates)
            or "no image series"
        )
        return None, [f"patient {patient}: no series matches {sequence}; candidates: {listed}"]
    if len(fitting) > 1:
        if rule.prefer == "unique":
            listed = "; ".join(c.info.label() for c in fitting)
            return None, [
                f"patient {patient}: {len(fitting)} series match {sequence} ({listed}); "
                "narrow the patterns or set prefer: latest|earliest"
            ]
        fitting.sort(key=lambda c: c.info.datetime)
        pick = fitting[-1] if rule.prefer == "latest" else fitting[0]
        ties = [c for c in fitting if c.info.datetime == pick.info.datetime]
        if len(ties) > 1:
            listed = "; ".join(c.info.label() for c in ties)
            return None, [
                f"patient {patient}: {len(ties)} series match {sequence} at the same time "
                f"({listed}); narrow the patterns"
            ]
        fitting = [pick]
    chosen = fitting[0]
    geometry = chosen.geometry
    problems = [
        f"patient {patient}: {sequence} series {chosen.info.label()}: {p}"
        for p in geometry.problems
    ]
    if not rule.resample:
        problems += [
            f"patient {patient}: {sequence} series {chosen.info.label()}: {p} "
            "(not resampled; set resample: true in the rules to allow it)"
            for p in geometry.spacing_problems
        ]
    return chosen, problems
