"""Numbered citations (Vancouver style) for the methods the report names.

``references.yaml`` holds each work and the phrases that cite it. :class:`Citations` inserts
"[n]" at the end of the sentence where a phrase first appears in a paragraph, numbering works
in the order the report first cites them, and gives the numbered reference list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

_SENTENCE_END = re.compile(r"\.(?=\s|$)")


@dataclass(frozen=True)
class Reference:
    """One cited work."""

    key: str
    text: str
    patterns: tuple[re.Pattern[str], ...]


@cache
def load_references() -> dict[str, Reference]:
    """Every work of ``radiopipe/report/references.yaml`` by key, in file order."""
    text = resources.files("radiopipe.report").joinpath("references.yaml").read_text("utf-8")
    return {
        key: Reference(key, entry["text"], tuple(re.compile(p) for p in entry["cite_when"]))
        for key, entry in yaml.safe_load(text).items()
    }


def _numbers(values: list[int]) -> str:
    """'1, 3–5' from [1, 3, 4, 5]."""
    values = sorted(set(values))
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


@dataclass
class Citations:
    """The works cited so far, in order of first citation."""

    order: list[str] = field(default_factory=list)

    def number(self, key: str) -> int:
        """The citation number of a work (given on first use)."""
        if key not in self.order:
            self.order.append(key)
        return self.order.index(key) + 1

    def cite(self, text: str, keys: tuple[str, ...] | None = None) -> str:
        """``text`` with "[n]" before the full stop of each sentence naming a method (every
        known work, or only ``keys``)."""
        found: list[tuple[int, int, str]] = []
        for index, (key, ref) in enumerate(load_references().items()):
            if keys is not None and key not in keys:
                continue
            hits = [m.start() for p in ref.patterns if (m := p.search(text))]
            if hits:
                found.append((min(hits), index, key))
        by_end: dict[int, list[int]] = {}
        for start, _, key in sorted(found):
            end = _SENTENCE_END.search(text, start)
            position = end.start() if end else len(text)
            by_end.setdefault(position, []).append(self.number(key))
        for position in sorted(by_end, reverse=True):
            text = f"{text[:position]} [{_numbers(by_end[position])}]{text[position:]}"
        return text

    def listing(self) -> list[tuple[int, str]]:
        """(number, reference text) of every cited work."""
        refs = load_references()
        return [(i, refs[key].text) for i, key in enumerate(self.order, start=1)]
